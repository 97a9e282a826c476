using Microsoft.Data.Sqlite;

namespace Tendril.Storage.Sqlite;

/// <summary>
/// A unit of database work queued to a worker thread. The caller awaits <see cref="SqliteWorkItem{T}.Task"/>, whose
/// continuations run asynchronously so they never execute on (and never stall) a worker thread.
/// </summary>
internal abstract class SqliteWorkItem
{
    private const int Queued = 0, Running = 1, Canceled = 2;
    private int _state;

    /// <summary>When the item was created (queued), as a <see cref="System.Diagnostics.Stopwatch"/> timestamp.</summary>
    public long EnqueuedAt { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>What the item does ("find account"): a constant string, used as a metric label.</summary>
    public abstract string Operation { get; }

    /// <summary>Claims the item for execution; false when the caller canceled it while it waited in the queue.</summary>
    public bool TryStart() => Interlocked.CompareExchange(ref _state, Running, Queued) == Queued;

    /// <summary>Claims the item for cancellation; false when a worker already started it (it then completes normally).</summary>
    protected bool TryCancel() => Interlocked.CompareExchange(ref _state, Canceled, Queued) == Queued;

    /// <summary>Runs on a worker thread, after <see cref="TryStart"/> succeeded.</summary>
    public abstract void Execute(SqliteConnection connection);

    /// <summary>Completes the item with an error without running it (connection could not be opened).</summary>
    public abstract void Fail(Exception exception);
}

internal sealed class SqliteWorkItem<T> : SqliteWorkItem
{
    private readonly string _operation;
    private readonly Func<SqliteConnection, T> _work;
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenRegistration _registration;

    public SqliteWorkItem(string operation, Func<SqliteConnection, T> work)
    {
        _operation = operation;
        _work = work;
    }

    public Task<T> Task => _completion.Task;

    public override string Operation => _operation;

    /// <summary>
    /// Cancellation is honored only while the item waits in the queue: once a worker has started it, it runs to
    /// completion and the caller sees its result. So an <see cref="OperationCanceledException"/> always means
    /// the operation did not run.
    /// </summary>
    public void RegisterCancellation(CancellationToken cancellationToken)
    {
        if (!cancellationToken.CanBeCanceled) return;
        _registration = cancellationToken.UnsafeRegister(static (state, token) =>
        {
            var item = (SqliteWorkItem<T>)state!;
            if (item.TryCancel()) item._completion.TrySetCanceled(token);
        }, this);
    }

    public void DisposeRegistration() => _registration.Dispose();

    public override void Execute(SqliteConnection connection)
    {
        _registration.Dispose();
        try
        {
            _completion.TrySetResult(_work(connection));
        }
        catch (Exception e)
        {
            _completion.TrySetException(Wrap(_operation, e));
        }
    }

    public override void Fail(Exception exception)
    {
        _registration.Dispose();
        _completion.TrySetException(Wrap(_operation, exception));
    }

    /// <summary>
    /// Result codes that the same statement gets again (https://sqlite.org/rescode.html): SQLITE_ERROR (1: SQL error,
    /// missing table), SQLITE_TOOBIG (18), SQLITE_CONSTRAINT (19), SQLITE_MISMATCH (20), SQLITE_RANGE (25). Busy, locked,
    /// I/O error, disk full, cannot open… may pass later.
    /// </summary>
    private static bool IsPermanent(SqliteException e) => e.SqliteErrorCode is 1 or 18 or 19 or 20 or 25;

    internal static Exception Wrap(string operation, Exception e) => e switch
    {
        StorageException or ArgumentException or ObjectDisposedException => e,
        SqliteException sqlite => new StorageException($"SQLite {operation} failed: {sqlite.Message}", e) { IsPermanent = IsPermanent(sqlite) },
        _ => new StorageException($"SQLite {operation} failed: {e.Message}", e),
    };
}
