using System.Security.Cryptography;
using System.Text;

namespace Tendril.Redis;

/// <summary>A Lua script run with EVALSHA (EVAL when Redis has forgotten it, e.g. after a restart).</summary>
public sealed class RedisScript
{
    public RedisScript(string lua)
    {
        ArgumentNullException.ThrowIfNull(lua);
        Lua = lua;
        // SHA1 is what Redis names scripts by (EVALSHA), not a security use.
#pragma warning disable CA5350
        Sha1Hex = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(lua)));
#pragma warning restore CA5350
    }

    public string Lua { get; }

    /// <summary>Lower-case hex SHA1 of the UTF-8 script, as SCRIPT LOAD returns it.</summary>
    public string Sha1Hex { get; }
}
