using Microsoft.Extensions.Logging;

namespace Tendril.Redis.Internal;

internal static partial class Log
{
    [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Redis {Role} connection established to {EndPoint}")]
    public static partial void Connected(ILogger logger, string role, string endPoint);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "Redis {Role} connection lost; reconnecting in the background")]
    public static partial void ConnectionLost(ILogger logger, string role, Exception reason);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "Redis {Role} reconnect attempt {Attempt} failed: {Error}")]
    public static partial void ReconnectFailed(ILogger logger, string role, int attempt, string error);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Information, Message = "Redis connections restored ({Subscriptions} subscriptions)")]
    public static partial void Reconnected(ILogger logger, int subscriptions);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Error, Message = "Redis subscription handler for channel {Channel} failed")]
    public static partial void HandlerFailed(ILogger logger, string channel, Exception exception);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Error, Message = "Redis event handler {Event} failed")]
    public static partial void EventHandlerFailed(ILogger logger, string @event, Exception exception);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Warning, Message = "Redis {Role} connection: no reply within {Timeout}; closing it")]
    public static partial void CommandTimedOut(ILogger logger, string role, TimeSpan timeout);
}
