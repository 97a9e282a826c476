using Tendril.Tests.Support;

namespace Tendril.Storage.Tests;

public abstract class ArchiveStoreTests : StorageTestBase
{
    private const string D = "example.org";
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    protected override async Task SeedAsync()
    {
        await Storage.Accounts.CreateAsync(Accounts.Make("juliet"));
    }

    private async Task AppendAsync(int n, string with = "romeo@example.org/r")
    {
        Assert.True(await Storage.Archive.AppendAsync(D, "juliet", new ArchivedMessage("id" + n, T0.AddMinutes(n), with, ArchiveDirection.Incoming, $"<message>{n}</message>")));
    }

    private static string[] Ids(ArchivePage page) => [.. page.Items.Select(i => i.Id)];

    private static ArchiveAppend Row(string user, int n, string with = "romeo@example.org/r") =>
        new(D, user, new ArchivedMessage("b" + n, T0.AddSeconds(n), with, n % 2 == 0 ? ArchiveDirection.Incoming : ArchiveDirection.Outgoing, $"<message>{n}</message>"));

    [Fact]
    public async Task A_batch_is_written_in_order_and_skips_accounts_that_do_not_exist()
    {
        await Storage.Accounts.CreateAsync(Accounts.Make("romeo"));
        await AppendAsync(0); // a row written alone before the batch stays first
        var batch = new List<ArchiveAppend>();
        for (var i = 1; i <= 300; i++) batch.Add(Row(i % 3 == 0 ? "romeo" : i % 7 == 0 ? "nobody" : "juliet", i, i % 5 == 0 ? "nurse@example.org" : "romeo@example.org/r"));
        var expectedJuliet = batch.Where(r => r.Username == "juliet").Select(r => r.Message.Id).ToList();
        var expectedRomeo = batch.Where(r => r.Username == "romeo").Select(r => r.Message.Id).ToList();

        Assert.Equal(expectedJuliet.Count + expectedRomeo.Count, await Storage.Archive.AppendBatchAsync(batch));
        Assert.Equal(0, await Storage.Archive.AppendBatchAsync([]));

        var juliet = await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { Max = 1000 });
        Assert.Equal(["id0", .. expectedJuliet], Ids(juliet));
        Assert.Equal(expectedRomeo, Ids(await Storage.Archive.QueryAsync(D, "romeo", new ArchiveQuery { Max = 1000 })));
        Assert.Equal(0, (await Storage.Archive.QueryAsync(D, "nobody", new ArchiveQuery { Max = 1000 })).Count);
        // Every field round-trips, and 'with' filters by the bare JID the batch derived.
        var five = juliet.Items.Single(m => m.Id == "b5");
        Assert.Equal(T0.AddSeconds(5), five.Timestamp);
        Assert.Equal("nurse@example.org", five.With);
        Assert.Equal(ArchiveDirection.Outgoing, five.Direction);
        Assert.Equal("<message>5</message>", five.Stanza);
        var withRomeo = await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { Max = 1000, With = "romeo@example.org" });
        Assert.Equal(juliet.Items.Where(m => m.With.StartsWith("romeo@", StringComparison.Ordinal)).Select(m => m.Id), Ids(withRomeo));
    }

    [Fact]
    public async Task A_batch_for_an_account_deleted_before_it_writes_nothing_for_that_account()
    {
        await Storage.Accounts.CreateAsync(Accounts.Make("romeo"));
        Assert.Equal(2, await Storage.Archive.AppendBatchAsync([Row("romeo", 1), Row("juliet", 2)]));
        Assert.True(await Storage.Accounts.DeleteAsync(D, "romeo"));
        // The batch queued before the deletion is written after it: the deleted account gets nothing back.
        Assert.Equal(1, await Storage.Archive.AppendBatchAsync([Row("romeo", 3), Row("juliet", 4), Row("romeo", 5)]));
        Assert.Equal(["b2", "b4"], Ids(await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { Max = 10 })));
        await Storage.Accounts.CreateAsync(Accounts.Make("romeo"));
        Assert.Equal(0, (await Storage.Archive.QueryAsync(D, "romeo", new ArchiveQuery { Max = 10 })).Count);
    }

    [Fact]
    public async Task A_batch_retried_after_its_commit_went_through_writes_each_row_once()
    {
        await AppendAsync(1);
        // The archive writer retries a batch whose answer was lost (the connection broke after the commit): rows already
        // there (same account, same id) are skipped, the others written, nothing fails and nothing is doubled.
        var batch = new List<ArchiveAppend> { Row("juliet", 10), new(D, "juliet", new ArchivedMessage("id1", T0, "a@b", ArchiveDirection.Incoming, "<message/>")) };
        Assert.Equal(1, await Storage.Archive.AppendBatchAsync(batch));
        Assert.Equal(0, await Storage.Archive.AppendBatchAsync(batch));
        var page = await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { Max = 10 });
        Assert.Equal(["id1", "b10"], Ids(page));
        Assert.Equal("<message>1</message>", page.Items[0].Stanza); // the first write stays
    }

    [Fact]
    public async Task Pages_forwards_backwards_and_by_filters()
    {
        for (var i = 1; i <= 5; i++) await AppendAsync(i, i % 2 == 0 ? "nurse@example.org" : "romeo@example.org/r");
        Assert.False(await Storage.Archive.AppendAsync(D, "nobody", new ArchivedMessage("x", T0, "a@b", ArchiveDirection.Outgoing, "<message/>")));

        var first = await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { Max = 2 });
        Assert.Equal(["id1", "id2"], Ids(first));
        Assert.False(first.Complete);
        Assert.Equal(5, first.Count);
        var last = await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { Max = 2, Before = "" });
        Assert.Equal(["id4", "id5"], Ids(last));
        var before = await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { Max = 2, Before = "id2" });
        Assert.Equal(["id1"], Ids(before));
        Assert.True(before.Complete);
        var after = await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { Max = 2, After = "id3" });
        Assert.Equal(["id4", "id5"], Ids(after));
        Assert.True(after.Complete);

        Assert.Equal(["id1", "id3", "id5"], Ids(await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { With = "romeo@example.org" })));
        Assert.Equal(["id2", "id4"], Ids(await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { With = "nurse@example.org" })));
        Assert.Empty(Ids(await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { With = "romeo@example.org/other" })));
        Assert.Equal(["id2", "id3"], Ids(await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { Start = T0.AddMinutes(2), End = T0.AddMinutes(3) })));
        Assert.Equal(["id3"], Ids(await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { AfterId = "id2", BeforeId = "id4" })));
        Assert.Equal(["id1", "id5"], Ids(await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { Ids = ["id5", "id1", "nope"] })));
        Assert.Equal(ArchiveQueryStatus.ItemNotFound, (await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { After = "nope" })).Status);
    }

    [Fact]
    public async Task An_ids_list_of_any_length_is_honoured_in_full()
    {
        for (var i = 1; i <= 3; i++) await AppendAsync(i);
        // 1,200 ids with the real ones at the end: beyond any fixed cut (the stores once kept the first 500) and beyond
        // SQLite's default parameter limit of 999.
        var ids = new List<string>();
        for (var i = 0; i < 1_197; i++) ids.Add("unknown-" + i);
        ids.AddRange(["id3", "id1", "id2"]);
        var page = await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery { Ids = ids, Max = 10 });
        Assert.Equal(["id1", "id2", "id3"], Ids(page));
        Assert.Equal(3, page.Count);
        Assert.True(page.Complete);
    }

    [Fact]
    public async Task Preferences_retention_and_account_deletion()
    {
        Assert.Null(await Storage.Archive.GetPreferencesAsync(D, "juliet"));
        Assert.True(await Storage.Archive.SetPreferencesAsync(D, "juliet", new ArchivePreferences(ArchiveDefault.Roster, ["a@example.org"], ["b@example.org"])));
        var prefs = await Storage.Archive.GetPreferencesAsync(D, "juliet");
        Assert.Equal(ArchiveDefault.Roster, prefs!.Default);
        Assert.Equal(["a@example.org"], prefs.Always);
        Assert.Equal(["b@example.org"], prefs.Never);
        Assert.False(await Storage.Archive.SetPreferencesAsync(D, "nobody", ArchivePreferences.Initial));

        for (var i = 1; i <= 3; i++) await AppendAsync(i);
        Assert.Equal(2, await Storage.Archive.DeleteOlderThanAsync(T0.AddMinutes(3)));
        Assert.Equal(["id3"], Ids(await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery())));

        Assert.True(await Storage.Accounts.DeleteAsync(D, "juliet"));
        Assert.Empty(Ids(await Storage.Archive.QueryAsync(D, "juliet", new ArchiveQuery())));
        Assert.Null(await Storage.Archive.GetPreferencesAsync(D, "juliet"));
    }
}

public sealed class SqliteArchiveStoreTests : ArchiveStoreTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => Task.FromResult<IStorageBackend>(new SqliteBackend());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresArchiveStoreTests(PostgresFixture postgres) : ArchiveStoreTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => PostgresBackend.CreateAsync(postgres.Server);
}
