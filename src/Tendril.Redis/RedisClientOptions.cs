namespace Tendril.Redis;

/// <summary>How <see cref="RedisClient"/> reaches and talks to one Redis server.</summary>
public sealed class RedisClientOptions
{
    /// <summary><c>host:port</c> (<c>[::1]:6379</c> for IPv6 literals), or a unix socket path starting with '/'.</summary>
    public string EndPoint { get; set; } = "127.0.0.1:6379";

    /// <summary>Sent with AUTH when set; <c>user:password</c> sends <c>AUTH user password</c> (Redis 6 ACL users).</summary>
    public string? Password { get; set; }

    /// <summary>SELECTed on the command connection when non-zero (pub/sub does not depend on the database).</summary>
    public int Database { get; set; }

    /// <summary>Bound on establishing one connection, handshake (AUTH, SELECT, CLIENT SETNAME, resubscribe) included.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A command not answered within this time fails with <see cref="RedisTimeoutException"/>. Replies come in order,
    /// so an unanswered oldest command means the connection is stuck: it is closed and re-established.
    /// </summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>First delay before a reconnect attempt; doubles per failed attempt, with jitter.</summary>
    public TimeSpan ReconnectMinDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Cap of the reconnect delay.</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>CLIENT SETNAME on both connections when set (the subscriber connection gets a <c>-sub</c> suffix).</summary>
    public string? ClientName { get; set; }

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(EndPoint)) throw new ArgumentException("EndPoint is required.", nameof(EndPoint));
        if (Database < 0) throw new ArgumentOutOfRangeException(nameof(Database), Database, "Database must be >= 0.");
        if (ConnectTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, "Must be positive.");
        if (CommandTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(CommandTimeout), CommandTimeout, "Must be positive.");
        if (ReconnectMinDelay <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ReconnectMinDelay), ReconnectMinDelay, "Must be positive.");
        if (ReconnectMaxDelay < ReconnectMinDelay) throw new ArgumentOutOfRangeException(nameof(ReconnectMaxDelay), ReconnectMaxDelay, "Must be >= ReconnectMinDelay.");
        if (ClientName is not null && (ClientName.Length == 0 || ClientName.Any(c => c <= ' ')))
            throw new ArgumentException("ClientName must be non-empty and contain no spaces.", nameof(ClientName));
    }

    /// <summary>The endpoint, never the password.</summary>
    public override string ToString() => $"{EndPoint} db={Database}" + (Password is null ? "" : " auth=****");
}
