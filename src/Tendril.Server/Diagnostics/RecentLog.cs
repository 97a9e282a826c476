using Microsoft.Extensions.Logging;

namespace Tendril.Server.Diagnostics;

/// <summary>One captured log line.</summary>
public sealed record RecentLogEntry(DateTimeOffset Time, LogLevel Level, string Category, string Message, string? Exception);

/// <summary>The last <see cref="Capacity"/> log lines at Warning or above, in memory, for the admin page's "recent errors".</summary>
public sealed class RecentLogBuffer
{
    public const int Capacity = 200;

    private readonly RecentLogEntry?[] _entries = new RecentLogEntry?[Capacity];
    private readonly Lock _gate = new();
    private long _next;

    public void Add(RecentLogEntry entry)
    {
        lock (_gate)
        {
            _entries[_next % Capacity] = entry;
            _next++;
        }
    }

    /// <summary>Newest first.</summary>
    public IReadOnlyList<RecentLogEntry> Snapshot()
    {
        lock (_gate)
        {
            var count = (int)Math.Min(_next, Capacity);
            var result = new List<RecentLogEntry>(count);
            for (var i = 1; i <= count; i++) result.Add(_entries[(_next - i) % Capacity]!);
            return result;
        }
    }
}

/// <summary>An <see cref="ILoggerProvider"/> feeding <see cref="RecentLogBuffer"/> with Warning+ lines.</summary>
public sealed class RecentLogProvider(RecentLogBuffer buffer) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new RecentLogger(buffer, categoryName);

    public void Dispose()
    {
    }

    private sealed class RecentLogger(RecentLogBuffer buffer, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            buffer.Add(new RecentLogEntry(DateTimeOffset.UtcNow, logLevel, category, formatter(state, exception),
                exception is null ? null : exception.GetType().Name + ": " + exception.Message));
        }
    }
}
