using Tendril.Server.Configuration;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Tendril.Protocol;
using Tendril.Server.Features.Archive;
using Tendril.Server.Features.Mam;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Storage;
using Tendril.Storage.Sqlite;
using Tendril.Xml;

namespace Tendril.Server.Tests.Mam;

/// <summary>
/// Archiving off the stanza path (<see cref="ArchiveWriter"/>): what a query returns right after rapid sending, order
/// across batches and under back-pressure, a graceful stop that writes what is queued, and a storage outage.
/// </summary>
public sealed class MamArchiveWriterTests : ImTestBase
{
    private const string M = "urn:xmpp:mam:2";
    private const string F = "urn:xmpp:forward:0";

    protected override void Configure(Configuration.TendrilOptions options) => options.Mam.MaxPageSize = 1000;

    /// <summary>The bodies of every archived message, in archive order (one page of up to 1000).</summary>
    internal static async Task<List<string>> ArchivedBodiesAsync(TestClient c)
    {
        var id = NextId();
        await c.SendAsync($"<iq type='set' id='{id}'><query xmlns='{M}' queryid='all'><set xmlns='http://jabber.org/protocol/rsm'><max>1000</max></set></query></iq>");
        var bodies = new List<string>();
        while (true)
        {
            var e = await c.NextAsync();
            if (e.Name == "iq" && e.GetAttribute("id") == id)
            {
                Assert.Equal("result", e.GetAttribute("type"));
                return bodies;
            }
            if (e.Name == "message" && e.Element("result", M) is { } r)
            {
                bodies.Add(r.Element("forwarded", F)!.Element("message", Ns.Client)!.Element("body", Ns.Client)!.Text);
            }
        }
    }

    private static List<string> Expected(int count) => [.. Enumerable.Range(1, count).Select(i => "m" + i)];

    /// <summary>Sends <paramref name="count"/> messages without waiting, then waits until the last one arrived.</summary>
    private static async Task SendRapidlyAsync(TestClient from, TestClient to, int count)
    {
        for (var i = 1; i <= count; i++) await from.SendAsync($"<message to='{to.Jid}' type='chat' id='m{i}'><body>m{i}</body></message>");
        var last = await to.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == $"m{count}");
        // The archive id was assigned before delivery, as before: the delivered copy names it.
        Assert.NotNull(last.Element("stanza-id", "urn:xmpp:sid:0")?.GetAttribute("id"));
    }

    [Fact]
    public async Task A_query_right_after_600_rapid_messages_returns_all_of_them_in_order_on_both_sides()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await SendRapidlyAsync(romeo, juliet, 600);
        // 1,200 records (both copies) span more than one batch.
        Assert.True(1200 > ArchiveWriter.MaxBatch);
        Assert.Equal(Expected(600), await ArchivedBodiesAsync(juliet));
        Assert.Equal(Expected(600), await ArchivedBodiesAsync(romeo));
    }

    [Fact]
    public async Task The_senders_own_query_sent_right_after_its_messages_sees_them_all()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        for (var i = 1; i <= 300; i++) await romeo.SendAsync($"<message to='juliet@localhost' type='chat' id='m{i}'><body>m{i}</body></message>");
        // No wait: the query follows the messages on romeo's stream, so it is handled after they were archived.
        Assert.Equal(Expected(300), await ArchivedBodiesAsync(romeo));
    }

    /// <summary>
    /// End to end: stop, restart, everything is there. In-memory streams close slowly enough that the writer has usually
    /// drained before the stop reaches it, so this passes even without the stop's flush; that the stop writes what is
    /// still queued is asserted by <see cref="ArchiveWriterOutageTests"/> (records queued, then StopAsync).
    /// </summary>
    [Fact]
    public async Task A_graceful_stop_writes_what_is_queued_before_storage_closes()
    {
        var directory = Path.Combine(Path.GetTempPath(), "tendril-test-" + Guid.NewGuid().ToString("N"));
        var first = await TestServer.StartAsync(Configure, directory: directory);
        first.KeepDirectory = true;
        await first.AddUserAsync("juliet", "pw");
        await first.AddUserAsync("romeo", "pw");
        await using (var juliet = await LoginAsync("juliet", server: first))
        await using (var romeo = await LoginAsync("romeo", server: first))
        {
            await SendRapidlyAsync(romeo, juliet, 200);
            await first.DisposeAsync(); // immediately: records may still be queued
        }
        await using var restarted = await TestServer.StartAsync(Configure, directory: directory);
        var page = await restarted.Storage.Archive.QueryAsync("localhost", "juliet", new ArchiveQuery { Max = 1000 });
        Assert.Equal(Expected(200), page.Items.Select(m => Body(m.Stanza)).ToList());
        Assert.Equal(200, (await restarted.Storage.Archive.QueryAsync("localhost", "romeo", new ArchiveQuery { Max = 0 })).Count);
    }

    private static string Body(string stanza) => Tendril.Server.Features.StoredStanza.Parse(stanza)!.Element("body", Ns.Client)!.Text;
}

/// <summary>Back-pressure: a queue of 2 records makes the stanza path wait for the writer, never lose or reorder.</summary>
public sealed class MamArchiveBackPressureTests : ImTestBase
{
    private const string M = "urn:xmpp:mam:2";

    protected override void Configure(Configuration.TendrilOptions options)
    {
        options.Mam.MaxPageSize = 1000;
        options.Mam.WriteQueueCapacity = 2;
    }

    [Fact]
    public async Task A_tiny_queue_loses_nothing_and_keeps_the_order()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await using var nurse = await LoginAsync("nurse");
        // Two senders at once contend for the two slots.
        var a = Task.Run(async () => { for (var i = 1; i <= 200; i++) await romeo.SendAsync($"<message to='juliet@localhost' type='chat' id='r{i}'><body>r{i}</body></message>"); });
        var b = Task.Run(async () => { for (var i = 1; i <= 200; i++) await nurse.SendAsync($"<message to='juliet@localhost' type='chat' id='n{i}'><body>n{i}</body></message>"); });
        await Task.WhenAll(a, b);
        var seen = 0;
        await juliet.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") is "r200" or "n200" && ++seen == 2);
        var bodies = await MamArchiveWriterTests.ArchivedBodiesAsync(juliet);
        Assert.Equal(400, bodies.Count);
        Assert.Equal([.. Enumerable.Range(1, 200).Select(i => "r" + i)], bodies.Where(b => b[0] == 'r').ToList());
        Assert.Equal([.. Enumerable.Range(1, 200).Select(i => "n" + i)], bodies.Where(b => b[0] == 'n').ToList());
    }
}

/// <summary>
/// The writer against a real SQLite archive behind a fault switch at one named point (the batch write): an outage of
/// any length is retried until storage is back and drops nothing, a record refused for good is the only one lost (and
/// counted), a stop cuts a backoff short, a stop during an outage ends within its bound and counts what is left, and a
/// full queue makes the producer wait.
/// </summary>
public sealed class ArchiveWriterOutageTests : IAsyncLifetime
{
    private string _directory = null!;
    private SqliteStorage _storage = null!;

    public async Task InitializeAsync()
    {
        _directory = Path.Combine(Path.GetTempPath(), "tendril-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _storage = new SqliteStorage(Path.Combine(_directory, "tendril.db"));
        await _storage.InitializeAsync();
        Assert.True(await _storage.Accounts.CreateAsync(new Account("juliet", "localhost",
            Tendril.Protocol.Sasl.ScramCredential.Create("pw", Tendril.Protocol.Sasl.ScramHash.Sha1, 4096),
            Tendril.Protocol.Sasl.ScramCredential.Create("pw", Tendril.Protocol.Sasl.ScramHash.Sha256, 4096), DateTimeOffset.UtcNow)));
    }

    public async Task DisposeAsync()
    {
        await _storage.DisposeAsync();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    private static ArchiveAppend Row(int n) =>
        new("localhost", "juliet", new ArchivedMessage("a" + n, DateTimeOffset.UtcNow, "romeo@localhost", ArchiveDirection.Incoming, $"<message>{n}</message>"));

    private async Task<List<string>> IdsAsync() =>
        [.. (await _storage.Archive.QueryAsync("localhost", "juliet", new ArchiveQuery { Max = 1000 })).Items.Select(m => m.Id)];

    /// <summary>Sums <c>tendril.mam.dropped</c> by its reason tag.</summary>
    private sealed class DroppedCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<string, long> _byReason = [];

        public DroppedCounter(Meter meter)
        {
            _listener.InstrumentPublished = (instrument, l) => { if (instrument.Meter == meter && instrument.Name == "tendril.mam.dropped") l.EnableMeasurementEvents(instrument); };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                var reason = "";
                foreach (var tag in tags) if (tag.Key == "reason") reason = (string)tag.Value!;
                lock (_byReason) _byReason[reason] = _byReason.GetValueOrDefault(reason) + value;
            });
            _listener.Start();
        }

        public long this[string reason]
        {
            get { lock (_byReason) return _byReason.GetValueOrDefault(reason); }
        }

        public long Total
        {
            get { lock (_byReason) return _byReason.Values.Sum(); }
        }

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task An_outage_is_retried_and_everything_is_written_in_order_once_storage_is_back()
    {
        var store = new FaultyArchiveStore(_storage.Archive) { Down = true };
        using var meter = new Meter("test-outage");
        var writer = new ArchiveWriter(store, 8, NullLogger.Instance, TimeProvider.System, meter, TimeSpan.FromMilliseconds(5));
        // 8 slots: the producer waits for space while the first batch fails (back-pressure, nothing dropped).
        var producer = Task.Run(async () => { for (var i = 1; i <= 20; i++) await writer.EnqueueAsync(Row(i)); });
        await store.Failed.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Empty(await IdsAsync());
        store.Down = false;
        await producer.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(await writer.WaitWrittenAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal([.. Enumerable.Range(1, 20).Select(i => "a" + i)], await IdsAsync());
        Assert.True(await writer.StopAsync(TimeSpan.FromSeconds(60)));
    }

    /// <summary>
    /// Issue 18: with Mam:WriteAttempts=5 a 20 s PostgreSQL restart dropped every batch after ~1.5 s. Now 60 failed
    /// attempts (12 times the old default) drop nothing; a query meanwhile is told "not yet" within its bound; the
    /// outage is logged once when it starts, counted while it lasts, and once when it ends.
    /// </summary>
    [Fact]
    public async Task An_outage_of_any_length_drops_nothing_and_is_logged_once_counted_and_ended()
    {
        var store = new FaultyArchiveStore(_storage.Archive) { Down = true };
        using var meter = new Meter("test-long-outage");
        using var dropped = new DroppedCounter(meter);
        var logs = new CapturingLoggerFactory();
        var writer = new ArchiveWriter(store, 64, logs.CreateLogger("Tendril.Mam"), TimeProvider.System, meter,
            firstBackoff: TimeSpan.FromMilliseconds(1), reportEvery: TimeSpan.FromMilliseconds(50), maxBackoff: TimeSpan.FromMilliseconds(5));
        for (var i = 1; i <= 10; i++) await writer.EnqueueAsync(Row(i));
        await store.FailedAtLeast(60).WaitAsync(TimeSpan.FromSeconds(60));
        // Read-your-writes stays bounded: the records are held, not finished.
        Assert.False(await writer.WaitWrittenAsync(TimeSpan.FromMilliseconds(50)));
        Assert.Equal(0, dropped.Total);
        Assert.Empty(await IdsAsync());
        for (var i = 11; i <= 15; i++) await writer.EnqueueAsync(Row(i)); // still accepted during the outage
        store.Down = false;
        Assert.True(await writer.WaitWrittenAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal([.. Enumerable.Range(1, 15).Select(i => "a" + i)], await IdsAsync());
        Assert.Equal(0, dropped.Total);
        Assert.True(await writer.StopAsync(TimeSpan.FromSeconds(60)));

        var started = Assert.Single(logs.WithEvent(3131));
        Assert.NotNull(started.Exception); // the one stack trace of the outage
        Assert.Contains("10 messages wait", started.Message, StringComparison.Ordinal);
        Assert.NotEmpty(logs.WithEvent(3135)); // counted while it lasted
        Assert.All(logs.WithEvent(3135), e => Assert.Null(e.Exception));
        Assert.True(logs.WithEvent(3135).Count < store.FailedCalls / 2, "not one line per attempt");
        var ended = Assert.Single(logs.WithEvent(3132));
        Assert.Contains("failed attempts", ended.Message, StringComparison.Ordinal);
        Assert.Empty(logs.WithEvent(3133));
    }

    [Fact]
    public async Task A_record_refused_for_good_is_the_only_one_lost_and_it_is_counted_and_logged()
    {
        var store = new FaultyArchiveStore(_storage.Archive) { RefuseId = "a3" };
        using var meter = new Meter("test-refused");
        using var dropped = new DroppedCounter(meter);
        var logs = new CapturingLoggerFactory();
        var writer = new ArchiveWriter(store, 64, logs.CreateLogger("Tendril.Mam"), TimeProvider.System, meter, TimeSpan.FromMilliseconds(1));
        for (var i = 1; i <= 6; i++) await writer.EnqueueAsync(Row(i));
        Assert.True(await writer.WaitWrittenAsync(TimeSpan.FromSeconds(60)));
        Assert.True(await writer.StopAsync(TimeSpan.FromSeconds(60)));
        // However the rows were batched, the batch holding a3 was written again row by row.
        Assert.Equal(["a1", "a2", "a4", "a5", "a6"], await IdsAsync());
        Assert.Equal(1, dropped["refused"]);
        Assert.Equal(1, dropped.Total);
        var error = Assert.Single(logs.WithEvent(3133));
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, error.Level);
        Assert.Contains("juliet@localhost", error.Message, StringComparison.Ordinal);
        Assert.Contains("a3", error.Message, StringComparison.Ordinal);
        Assert.Empty(logs.WithEvent(3131)); // a refusal is not an outage
    }

    /// <summary>
    /// The test-host hang: a batch failed while the writer's clock was a hand-moved one (timers never fire), so the
    /// backoff never ended and the server's dispose waited for the writer forever. A stop now cuts the backoff short.
    /// </summary>
    [Fact]
    public async Task A_stop_during_a_backoff_on_a_clock_that_never_fires_still_finishes()
    {
        var store = new FaultyArchiveStore(_storage.Archive) { Down = true };
        using var meter = new Meter("test-frozen");
        var writer = new ArchiveWriter(store, 64, NullLogger.Instance, new ManualTimeProvider(), meter);
        for (var i = 1; i <= 3; i++) await writer.EnqueueAsync(Row(i));
        await store.Failed.Task.WaitAsync(TimeSpan.FromSeconds(60)); // the loop is now in its first backoff, forever
        store.Down = false;
        await writer.StopAsync(TimeSpan.FromDays(1)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(["a1", "a2", "a3"], await IdsAsync()); // the next attempt ran at once, and storage was back
    }

    /// <summary>
    /// A stop while storage stays down: the writer keeps trying until the stop's bound, then gives up — the stop ends
    /// in time, and what was not written is logged with its count and counted (reason stop), not dropped silently.
    /// Producers waiting for room are released (no deadlock) and told the writer is closed.
    /// </summary>
    [Fact]
    public async Task A_stop_during_an_outage_ends_within_its_bound_and_counts_what_is_not_written()
    {
        var store = new FaultyArchiveStore(_storage.Archive) { Down = true };
        using var meter = new Meter("test-stop-outage");
        using var dropped = new DroppedCounter(meter);
        var logs = new CapturingLoggerFactory();
        var writer = new ArchiveWriter(store, 4, logs.CreateLogger("Tendril.Mam"), TimeProvider.System, meter,
            TimeSpan.FromMilliseconds(5), maxBackoff: TimeSpan.FromMilliseconds(20));
        for (var i = 1; i <= 4; i++) await writer.EnqueueAsync(Row(i));
        await store.Failed.Task.WaitAsync(TimeSpan.FromSeconds(60));
        // The loop holds some rows in its batch; fill the queue until a producer has to wait.
        var n = 4;
        ValueTask waiting;
        while ((waiting = writer.EnqueueAsync(Row(++n))).IsCompleted) { }
        Assert.Equal(1, writer.Waiting);
        var failedBefore = store.FailedCalls;

        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(await writer.StopAsync(TimeSpan.FromMilliseconds(500)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"stop took {clock.Elapsed}");
        Assert.True(store.FailedCalls > failedBefore, "the stop kept trying");
        await Assert.ThrowsAsync<System.Threading.Channels.ChannelClosedException>(async () => await waiting);
        var queued = n - 1; // every row but the refused producer's
        var error = Assert.Single(logs.WithEvent(3134));
        Assert.Contains($"{queued} messages are not archived", error.Message, StringComparison.Ordinal);
        // The loop ends at its next attempt and counts the same rows.
        Assert.True(await writer.WaitWrittenAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(queued, dropped["stop"]);
        Assert.Empty(await IdsAsync());
    }

    [Fact]
    public async Task A_stop_writes_everything_still_queued_before_it_completes()
    {
        var store = new FaultyArchiveStore(_storage.Archive) { Blocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        using var meter = new Meter("test-stop");
        var writer = new ArchiveWriter(store, 64, NullLogger.Instance, TimeProvider.System, meter);
        for (var i = 1; i <= 40; i++) await writer.EnqueueAsync(Row(i)); // the store holds the first batch: all 40 are pending
        var stop = writer.StopAsync(TimeSpan.FromSeconds(60));
        Assert.False(stop.IsCompleted); // cannot finish while a write is held
        Assert.Empty(await IdsAsync());
        store.Blocked.TrySetResult();
        Assert.True(await stop.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal([.. Enumerable.Range(1, 40).Select(i => "a" + i)], await IdsAsync());
        Assert.Equal(40, writer.Done);
    }

    [Fact]
    public async Task A_full_queue_makes_the_producer_wait_and_loses_nothing()
    {
        var store = new FaultyArchiveStore(_storage.Archive) { Blocked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        using var meter = new Meter("test-full");
        var writer = new ArchiveWriter(store, 2, NullLogger.Instance, TimeProvider.System, meter);
        // The store holds the first batch; the queue (2) fills and an enqueue has to wait. At most one batch
        // (MaxBatch) plus the queue's 2 can be taken without waiting.
        var pending = new List<Task>();
        var n = 0;
        while (pending.Count == 0 && n < ArchiveWriter.MaxBatch + 3)
        {
            var t = writer.EnqueueAsync(Row(++n));
            if (!t.IsCompleted) pending.Add(t.AsTask());
        }
        _ = Assert.Single(pending);
        Assert.Empty(await IdsAsync());
        // More producers queue up behind it, in order.
        var rest = Task.Run(async () => { for (var i = n + 1; i <= n + 50; i++) await writer.EnqueueAsync(Row(i)); });
        store.Blocked.TrySetResult();
        await pending[0].WaitAsync(TimeSpan.FromSeconds(60));
        await rest.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(await writer.WaitWrittenAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal([.. Enumerable.Range(1, n + 50).Select(i => "a" + i)], await IdsAsync());
        Assert.True(await writer.StopAsync(TimeSpan.FromSeconds(60)));
    }

    /// <summary>The real archive store with a switch that makes batch writes fail as an unreachable database does.</summary>
    private sealed class FaultyArchiveStore(IArchiveStore inner) : IArchiveStore
    {
        public volatile bool Down;
        private int _failedCalls;
        private int _failedRows;

        public int FailedCalls => Volatile.Read(ref _failedCalls);

        /// <summary>Rows in the failed calls, summed: each row's attempts, however the writer batched them.</summary>
        public int FailedRows => Volatile.Read(ref _failedRows);

        /// <summary>When set, batch writes wait for it (a slow database).</summary>
        public TaskCompletionSource? Blocked { get; init; }

        public TaskCompletionSource Failed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>A batch holding this archive id is refused for good, as a constraint violation is.</summary>
        public string? RefuseId { get; init; }

        private (int Count, TaskCompletionSource Reached)? _failedTarget;

        /// <summary>Completes once <paramref name="count"/> calls have failed.</summary>
        public Task FailedAtLeast(int count)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _failedTarget = (count, reached);
            if (FailedCalls >= count) reached.TrySetResult();
            return reached.Task;
        }

        public async ValueTask<int> AppendBatchAsync(IReadOnlyList<ArchiveAppend> batch, CancellationToken cancellationToken = default)
        {
            if (Blocked is { } blocked) await blocked.Task.ConfigureAwait(false);
            if (RefuseId is { } refused && batch.Any(r => r.Message.Id == refused))
                throw new StorageException("A constraint was violated (injected).") { IsPermanent = true };
            if (!Down) return await inner.AppendBatchAsync(batch, cancellationToken).ConfigureAwait(false);
            var failed = Interlocked.Increment(ref _failedCalls);
            Interlocked.Add(ref _failedRows, batch.Count);
            Failed.TrySetResult();
            if (_failedTarget is { } target && failed >= target.Count) target.Reached.TrySetResult();
            throw new StorageException("The database is unreachable (injected).");
        }

        public ValueTask<bool> AppendAsync(string domain, string username, ArchivedMessage message, CancellationToken cancellationToken = default) => inner.AppendAsync(domain, username, message, cancellationToken);

        public ValueTask<ArchivePage> QueryAsync(string domain, string username, ArchiveQuery query, CancellationToken cancellationToken = default) => inner.QueryAsync(domain, username, query, cancellationToken);

        public ValueTask<ArchivePreferences?> GetPreferencesAsync(string domain, string username, CancellationToken cancellationToken = default) => inner.GetPreferencesAsync(domain, username, cancellationToken);

        public ValueTask<bool> SetPreferencesAsync(string domain, string username, ArchivePreferences preferences, CancellationToken cancellationToken = default) => inner.SetPreferencesAsync(domain, username, preferences, cancellationToken);

        public ValueTask<int> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken = default) => inner.DeleteOlderThanAsync(cutoff, cancellationToken);

        public ValueTask<bool> ReplaceAsync(string domain, string username, string id, string stanza, CancellationToken cancellationToken = default) =>
            inner.ReplaceAsync(domain, username, id, stanza, cancellationToken);
    }
}
