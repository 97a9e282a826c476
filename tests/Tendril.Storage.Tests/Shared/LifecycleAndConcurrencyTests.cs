using Tendril.Tests.Support;

namespace Tendril.Storage.Tests;

/// <summary>Lifecycle and concurrency behaviour every backend shares; two instances on one store stand for two nodes.</summary>
public abstract class LifecycleAndConcurrencyTests : StorageTestBase
{
    private const string D = "example.org";

    [Fact]
    public async Task Accounts_persist_across_reopening_and_initialize_is_idempotent()
    {
        var account = Accounts.Make("juliet");
        Assert.True(await Storage.Accounts.CreateAsync(account));
        for (var run = 0; run < 3; run++)
        {
            await ReopenAsync();
            await Storage.InitializeAsync(); // a second call on the same instance is harmless too
            Assert.Equal(Backend.LatestSchemaVersion, Backend.SchemaVersion(Storage));
            Accounts.AssertSame(account, await Storage.Accounts.FindAsync(D, "juliet"));
            Assert.False(await Storage.Accounts.CreateAsync(account));
        }
    }

    [Fact]
    public async Task Calls_before_initialize_or_after_dispose_are_refused()
    {
        var storage = Backend.Create();
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await storage.Accounts.ListAsync(D));
        await storage.InitializeAsync();
        Assert.Empty(await storage.Accounts.ListAsync(D));
        await storage.DisposeAsync();
        await storage.DisposeAsync(); // idempotent
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await storage.Accounts.ListAsync(D));
    }

    [Fact]
    public async Task Many_concurrent_tasks_create_read_and_list()
    {
        const int count = 300;
        var tasks = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            var name = $"user{i:D4}";
            Assert.True(await Storage.Accounts.CreateAsync(Accounts.Make(name, seed: (byte)i)));
            Assert.NotNull(await Storage.Accounts.FindAsync(D, name));
            Assert.False(await Storage.Accounts.CreateAsync(Accounts.Make(name)));
            if (i % 3 == 0) Assert.True(await Storage.Accounts.DeleteAsync(D, name));
            await Storage.Accounts.ListAsync(D);
        }));
        await Task.WhenAll(tasks);
        var expected = Enumerable.Range(0, count).Where(i => i % 3 != 0).Select(i => $"user{i:D4}").ToList();
        Assert.Equal(expected, await Storage.Accounts.ListAsync(D));
    }

    [Fact]
    public async Task Concurrent_offline_stores_from_two_instances_never_exceed_the_quota()
    {
        await Storage.Accounts.CreateAsync(Accounts.Make("juliet"));
        await using var other = await Backend.OpenAsync();
        const int senders = 60, max = 7;
        // Warm both instances (pooled connections open), then release every store at once: the quota check and the
        // insert of different senders overlap unless the backend serializes them.
        await Task.WhenAll(Enumerable.Range(0, senders).Select(i => (i % 2 == 0 ? Storage : other).Offline.CountAsync(D, "juliet").AsTask()));
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stores = Enumerable.Range(0, senders).Select(i => Task.Run(async () =>
        {
            await start.Task;
            return await (i % 2 == 0 ? Storage : other).Offline.StoreAsync(D, "juliet", $"<message><body>{i}</body></message>", DateTimeOffset.UtcNow, max);
        })).ToList();
        start.SetResult();
        var results = await Task.WhenAll(stores);
        Assert.Equal(max, results.Count(r => r == OfflineStoreResult.Stored));
        Assert.Equal(senders - max, results.Count(r => r == OfflineStoreResult.QuotaExceeded));
        Assert.Equal(max, await Storage.Offline.CountAsync(D, "juliet"));
        var stored = await other.Offline.ListAsync(D, "juliet", 100);
        Assert.Equal(max, stored.Count);
        Assert.Equal(stored.Select(m => m.Id).Order(), stored.Select(m => m.Id)); // oldest (lowest id) first
    }

    [Fact]
    public async Task Concurrent_roster_changes_get_distinct_versions()
    {
        await Storage.Accounts.CreateAsync(Accounts.Make("juliet"));
        await using var other = await Backend.OpenAsync();
        var versions = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => Task.Run(async () =>
            await (i % 2 == 0 ? Storage : other).Rosters.SetItemAsync(D, "juliet", RosterItem.Create($"c{i}@example.org")))));
        Assert.Equal(Enumerable.Range(1, 30).Select(v => (long)v), versions.Order());
        var roster = await Storage.Rosters.GetAsync(D, "juliet");
        Assert.Equal(30, roster.Version);
        Assert.Equal(30, roster.Items.Count);
    }

    [Fact]
    public async Task Concurrent_publishes_of_one_item_keep_one_copy_and_the_limit()
    {
        const string service = "pubsub.example.org";
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        Assert.True(await Storage.PubSub.CreateNodeAsync(new PubSubNodeRecord(service, "n", new Dictionary<string, IReadOnlyList<string>>(), "a@example.org", at)));
        await using var other = await Backend.OpenAsync();
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Task.Run(async () =>
        {
            var store = (i % 2 == 0 ? Storage : other).PubSub;
            // Half republish one id, half publish distinct ids; at most 5 items are kept.
            var id = i % 4 == 0 ? "same" : "item" + i;
            await store.PublishItemAsync(new PubSubItemRecord(service, "n", id, "a@example.org", $"<x>{i}</x>", at.AddSeconds(i)), maxItems: 5);
        })));
        var page = await Storage.PubSub.GetItemsAsync(service, "n", null);
        Assert.Equal(5, page.Count);
        Assert.Equal(5, page.Items.Select(i => i.ItemId).Distinct().Count());
    }
}

public sealed class SqliteLifecycleAndConcurrencyTests : LifecycleAndConcurrencyTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => Task.FromResult<IStorageBackend>(new SqliteBackend());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresLifecycleAndConcurrencyTests(PostgresFixture postgres) : LifecycleAndConcurrencyTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => PostgresBackend.CreateAsync(postgres.Server);
}
