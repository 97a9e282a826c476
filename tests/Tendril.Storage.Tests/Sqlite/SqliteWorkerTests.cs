using Tendril.Storage.Sqlite;

namespace Tendril.Storage.Tests;

/// <summary>SQLite-only: the worker threads and their bounded queues.</summary>
public sealed class SqliteWorkerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Work_runs_on_dedicated_threads_not_the_callers()
    {
        await using var storage = new SqliteStorage(_dir.File("tendril.db"));
        await storage.InitializeAsync();
        var caller = Environment.CurrentManagedThreadId;
        var reader = await storage.ReadAsync("test", _ => (Environment.CurrentManagedThreadId, Thread.CurrentThread.Name), default);
        var writer = await storage.WriteAsync("test", _ => (Environment.CurrentManagedThreadId, Thread.CurrentThread.Name), default);
        Assert.NotEqual(caller, reader.CurrentManagedThreadId);
        Assert.NotEqual(caller, writer.CurrentManagedThreadId);
        Assert.StartsWith("tendril-sqlite-reader", reader.Name, StringComparison.Ordinal);
        Assert.Equal("tendril-sqlite-writer", writer.Name);
    }

    [Fact]
    public async Task A_slow_operation_does_not_block_the_caller()
    {
        await using var storage = new SqliteStorage(_dir.File("tendril.db"));
        await storage.InitializeAsync();
        using var gate = new ManualResetEventSlim(false);
        using var started = new ManualResetEventSlim(false);
        try
        {
            // The operation cannot finish before the gate opens: a call that ran it on the caller's thread would never
            // return (seen here as a timeout, not a hang).
            var slow = await Task.Factory.StartNew(() => storage.WriteAsync("slow", _ => { started.Set(); gate.Wait(); return 1; }, default),
                CancellationToken.None, TaskCreationOptions.None, TaskScheduler.Default).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.False(slow.IsCompleted);
            Assert.True(started.Wait(TimeSpan.FromSeconds(30)), "the operation never started");
            // Readers keep serving while the writer is busy (it still is: the gate is closed).
            Assert.Empty(await storage.Accounts.ListAsync("example.org").AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.False(slow.IsCompleted);
            gate.Set();
            Assert.Equal(1, await slow);
        }
        finally
        {
            gate.Set();
        }
    }

    [Fact]
    public async Task A_full_queue_makes_callers_wait_then_everything_completes()
    {
        await using var storage = new SqliteStorage(new SqliteStorageOptions(_dir.File("tendril.db")) { QueueCapacity = 2, ReaderThreads = 1 });
        await storage.InitializeAsync();
        using var gate = new ManualResetEventSlim(false);
        using var started = new ManualResetEventSlim(false);
        var blocker = storage.WriteAsync("block", _ => { started.Set(); gate.Wait(); return 0; }, default);
        Assert.True(started.Wait(TimeSpan.FromSeconds(10)));

        // The writer is busy: the queue (capacity 2) fills, later callers wait asynchronously.
        var queued = Enumerable.Range(1, 10)
            .Select(i => storage.Accounts.CreateAsync(Accounts.Make($"u{i:D2}")).AsTask())
            .ToList();
        await Task.Delay(100);
        Assert.All(queued, t => Assert.False(t.IsCompleted));

        gate.Set();
        await blocker;
        Assert.All(await Task.WhenAll(queued), Assert.True);
        Assert.Equal(10, (await storage.Accounts.ListAsync("example.org")).Count);
    }

    [Fact]
    public async Task Canceling_while_queued_means_the_operation_never_runs()
    {
        await using var storage = new SqliteStorage(_dir.File("tendril.db"));
        await storage.InitializeAsync();
        using var gate = new ManualResetEventSlim(false);
        using var started = new ManualResetEventSlim(false);
        var blocker = storage.WriteAsync("block", _ => { started.Set(); gate.Wait(); return 0; }, default);
        Assert.True(started.Wait(TimeSpan.FromSeconds(10)));

        using var cts = new CancellationTokenSource();
        var create = storage.Accounts.CreateAsync(Accounts.Make("juliet"), cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => create);
        gate.Set();
        await blocker;
        Assert.Null(await storage.Accounts.FindAsync("example.org", "juliet"));
    }

    [Fact]
    public async Task Dispose_drains_queued_work()
    {
        var storage = new SqliteStorage(_dir.File("tendril.db"));
        await storage.InitializeAsync();
        using var gate = new ManualResetEventSlim(false);
        using var started = new ManualResetEventSlim(false);
        var blocker = storage.WriteAsync("block", _ => { started.Set(); gate.Wait(); return 0; }, default);
        Assert.True(started.Wait(TimeSpan.FromSeconds(10)));
        var queued = Enumerable.Range(1, 5).Select(i => storage.Accounts.CreateAsync(Accounts.Make($"u{i}")).AsTask()).ToList();
        var disposing = storage.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        gate.Set();
        await disposing;
        await blocker;
        Assert.All(await Task.WhenAll(queued), Assert.True);

        await using var reopened = new SqliteStorage(_dir.File("tendril.db"));
        await reopened.InitializeAsync();
        Assert.Equal(5, (await reopened.Accounts.ListAsync("example.org")).Count);
    }
}
