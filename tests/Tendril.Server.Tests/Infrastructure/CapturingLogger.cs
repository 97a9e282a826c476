using Microsoft.Extensions.Logging;

namespace Tendril.Server.Tests.Infrastructure;

/// <summary>One log line as written: level, event id, category, the formatted message and the exception (if any).</summary>
public sealed record LogEntry(LogLevel Level, int EventId, string Category, string Message, Exception? Exception);

/// <summary>
/// A logger factory that keeps every line (a test asserts what an operator would read: one line per outage, not one
/// stack trace per stanza). Thread-safe; <see cref="Entries"/> is a snapshot.
/// </summary>
public sealed class CapturingLoggerFactory : ILoggerFactory, ILoggerProvider
{
    private readonly List<LogEntry> _entries = [];

    public IReadOnlyList<LogEntry> Entries
    {
        get
        {
            lock (_entries) return [.. _entries];
        }
    }

    public IReadOnlyList<LogEntry> WithEvent(int eventId) => [.. Entries.Where(e => e.EventId == eventId)];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private void Add(LogEntry entry)
    {
        lock (_entries) _entries.Add(entry);
    }

    private sealed class Logger(CapturingLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            owner.Add(new LogEntry(logLevel, eventId.Id, category, formatter(state, exception), exception));
        }
    }
}
