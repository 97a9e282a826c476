namespace Tendril.Redis;

/// <summary>An error reply (<c>-ERR ...</c>, <c>-WRONGTYPE ...</c>, <c>-EXECABORT ...</c>) from Redis.</summary>
public sealed class RedisServerException : Exception
{
    public RedisServerException() { }
    public RedisServerException(string message) : base(message) { }
    public RedisServerException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>No usable connection: unreachable, lost while the command was in flight, or reconnecting.</summary>
public sealed class RedisConnectionException : Exception
{
    public RedisConnectionException() { }
    public RedisConnectionException(string message) : base(message) { }
    public RedisConnectionException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>A command not answered within <see cref="RedisClientOptions.CommandTimeout"/>.</summary>
public sealed class RedisTimeoutException : Exception
{
    public RedisTimeoutException() { }
    public RedisTimeoutException(string message) : base(message) { }
    public RedisTimeoutException(string message, Exception innerException) : base(message, innerException) { }
}
