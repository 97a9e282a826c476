namespace Tendril.Storage.Sqlite;

/// <summary>Settings of <see cref="SqliteStorage"/>.</summary>
/// <param name="DatabasePath">The database file; its folder is created when missing.</param>
public sealed record SqliteStorageOptions(string DatabasePath)
{
    /// <summary>Threads (each with its own connection) serving reads. Writes always go to a single writer thread.</summary>
    public int ReaderThreads { get; init; } = 2;

    /// <summary>
    /// Capacity of each work queue (one for writes, one shared by readers). When a queue is full, callers wait
    /// asynchronously for room (back-pressure) rather than fail.
    /// </summary>
    public int QueueCapacity { get; init; } = 1024;

    /// <summary>How long a connection waits for a lock held by another process before failing (SQLite busy_timeout).</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(5);

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(DatabasePath)) throw new ArgumentException("The database path is empty.", nameof(DatabasePath));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReaderThreads, 1, nameof(ReaderThreads));
        ArgumentOutOfRangeException.ThrowIfLessThan(QueueCapacity, 1, nameof(QueueCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThan(BusyTimeout, TimeSpan.Zero, nameof(BusyTimeout));
    }
}
