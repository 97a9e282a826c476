using System.Security.Cryptography;
using System.Text;

namespace Tendril.Redis;

public sealed class RedisClientOptions
{
    public string EndPoint { get; set; } = "127.0.0.1:6379";
    public string? Password { get; set; }
    public int Database { get; set; }
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan ReconnectMinDelay { get; set; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(5);
    public string? ClientName { get; set; }
}

public class RedisException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>An error reply (-ERR …) from the server.</summary>
public sealed class RedisServerException(string message) : RedisException(message);

/// <summary>No connection (down, reconnecting, or lost while the command was in flight).</summary>
public sealed class RedisConnectionException(string message, Exception? inner = null) : RedisException(message, inner);

/// <summary>No reply within the command timeout (the command may or may not have run).</summary>
public sealed class RedisTimeoutException(string message) : RedisException(message);

/// <summary>One argument of a command: bytes, written as a RESP bulk string.</summary>
public readonly struct RedisArg
{
    internal readonly ReadOnlyMemory<byte> Bytes;

    private RedisArg(ReadOnlyMemory<byte> bytes) => Bytes = bytes;

    public static implicit operator RedisArg(string value) => new(Encoding.UTF8.GetBytes(value));
    public static implicit operator RedisArg(long value) => new(Encoding.ASCII.GetBytes(value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    public static implicit operator RedisArg(int value) => (long)value;
    public static implicit operator RedisArg(ReadOnlyMemory<byte> value) => new(value);
    public static implicit operator RedisArg(byte[] value) => new(value);
}

/// <summary>A Lua script, run by EVALSHA with an EVAL fallback when the server does not know it (NOSCRIPT).</summary>
public sealed class RedisScript
{
    public RedisScript(string lua)
    {
        Lua = lua;
        Sha1 = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(lua)));
    }

    public string Lua { get; }

    public string Sha1 { get; }
}

public enum RedisResultKind { SimpleString, Error, Integer, BulkString, Array, Null }

public sealed class RedisResult
{
    private static readonly RedisResult[] s_empty = [];
    private readonly byte[]? _bytes;
    private readonly long _integer;

    internal RedisResult(RedisResultKind kind, byte[]? bytes = null, long integer = 0, RedisResult[]? items = null)
    {
        Kind = kind;
        _bytes = bytes;
        _integer = integer;
        Items = items ?? s_empty;
    }

    internal static readonly RedisResult Null = new(RedisResultKind.Null);

    public RedisResultKind Kind { get; }

    public bool IsNull => Kind == RedisResultKind.Null;

    public IReadOnlyList<RedisResult> Items { get; }

    public string? AsString() => Kind switch
    {
        RedisResultKind.Null => null,
        RedisResultKind.Integer => _integer.ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => _bytes is null ? null : Encoding.UTF8.GetString(_bytes),
    };

    public long AsInt64() => Kind == RedisResultKind.Integer ? _integer : long.Parse(AsString() ?? "0", System.Globalization.CultureInfo.InvariantCulture);

    public ReadOnlyMemory<byte> AsBytes() => _bytes ?? ReadOnlyMemory<byte>.Empty;

    public override string ToString() => Kind == RedisResultKind.Array ? "[" + string.Join(", ", Items) + "]" : AsString() ?? "(nil)";
}
