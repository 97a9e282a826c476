using Tendril.Tests.Support;

namespace Tendril.Storage.Tests;

public abstract class RosterAndOfflineStoreTests : StorageTestBase
{
    private const string D = "example.org";

    protected override async Task SeedAsync()
    {
        await Storage.Accounts.CreateAsync(Accounts.Make("juliet"));
        await Storage.Accounts.CreateAsync(Accounts.Make("romeo"));
    }

    [Fact]
    public async Task Roster_items_round_trip_and_every_change_bumps_the_version()
    {
        var rosters = Storage.Rosters;
        Assert.Equal(0, await rosters.GetVersionAsync(D, "juliet"));
        Assert.Empty((await rosters.GetAsync(D, "juliet")).Items);

        var item = new RosterItem("romeo@example.org", "Romeo", RosterSubscription.Both, Ask: false, Approved: false, ["Friends", "Lovers"]);
        Assert.Equal(1, await rosters.SetItemAsync(D, "juliet", item));
        var nurse = new RosterItem("nurse@example.org", null, RosterSubscription.None, Ask: true, Approved: true, []);
        Assert.Equal(2, await rosters.SetItemAsync(D, "juliet", nurse));

        var roster = await rosters.GetAsync(D, "juliet");
        Assert.Equal(2, roster.Version);
        Assert.Equal(2, roster.Items.Count);
        var read = await rosters.GetItemAsync(D, "juliet", "romeo@example.org");
        Assert.NotNull(read);
        Assert.Equal("Romeo", read.Name);
        Assert.Equal(RosterSubscription.Both, read.Subscription);
        Assert.Equal(["Friends", "Lovers"], read.Groups);
        var readNurse = (await rosters.GetItemAsync(D, "juliet", "nurse@example.org"))!;
        Assert.True(readNurse.Ask);
        Assert.True(readNurse.Approved);
        Assert.Null(readNurse.Name);

        Assert.Equal(3, await rosters.SetItemAsync(D, "juliet", item with { Name = "R", Groups = [] }));
        Assert.Equal("R", (await rosters.GetItemAsync(D, "juliet", "romeo@example.org"))!.Name);
        Assert.Equal(4, await rosters.RemoveItemAsync(D, "juliet", "romeo@example.org"));
        Assert.Null(await rosters.RemoveItemAsync(D, "juliet", "romeo@example.org"));
        Assert.Equal(4, await rosters.GetVersionAsync(D, "juliet"));
        Assert.Single((await rosters.GetAsync(D, "juliet")).Items);
        // Another user's roster is separate.
        Assert.Equal(0, await rosters.GetVersionAsync(D, "romeo"));
    }

    [Fact]
    public async Task Changes_since_a_version_list_each_changed_item_once_and_removals_in_version_order()
    {
        var rosters = Storage.Rosters;
        var empty = await rosters.GetChangesSinceAsync(D, "juliet", 0);
        Assert.NotNull(empty);
        Assert.Equal(0, empty.Version);
        Assert.Empty(empty.Changes);
        Assert.Null(await rosters.GetChangesSinceAsync(D, "juliet", 1)); // newer than the roster: unknown

        var romeo = new RosterItem("romeo@example.org", "Romeo", RosterSubscription.Both, false, false, ["Lovers"]);
        var nurse = RosterItem.Create("nurse@example.org");
        Assert.Equal(1, await rosters.SetItemAsync(D, "juliet", romeo));
        Assert.Equal(2, await rosters.SetItemAsync(D, "juliet", nurse));
        Assert.Equal(3, await rosters.SetItemAsync(D, "juliet", romeo with { Name = "R" }));
        Assert.Equal(4, await rosters.RemoveItemAsync(D, "juliet", "nurse@example.org"));

        var all = (await rosters.GetChangesSinceAsync(D, "juliet", 0))!;
        Assert.Equal(4, all.Version);
        Assert.Equal([(3L, "romeo@example.org"), (4L, "nurse@example.org")], all.Changes.Select(c => (c.Version, c.Jid)));
        Assert.Equal("R", all.Changes[0].Item!.Name);
        Assert.Equal(["Lovers"], all.Changes[0].Item!.Groups);
        Assert.Equal(RosterSubscription.Both, all.Changes[0].Item!.Subscription);
        Assert.Null(all.Changes[1].Item); // removed

        var sinceThree = (await rosters.GetChangesSinceAsync(D, "juliet", 3))!;
        Assert.Equal([(4L, "nurse@example.org", true)], sinceThree.Changes.Select(c => (c.Version, c.Jid, c.Item is null)));
        Assert.Empty((await rosters.GetChangesSinceAsync(D, "juliet", 4))!.Changes);
        Assert.Null(await rosters.GetChangesSinceAsync(D, "juliet", 5));

        // Added again: the item, not its removal.
        Assert.Equal(5, await rosters.SetItemAsync(D, "juliet", nurse));
        var readded = (await rosters.GetChangesSinceAsync(D, "juliet", 3))!;
        Assert.Equal([(5L, "nurse@example.org", false)], readded.Changes.Select(c => (c.Version, c.Jid, c.Item is null)));
        Assert.Empty((await rosters.GetChangesSinceAsync(D, "romeo", 0))!.Changes); // another user's roster is separate

        await ReopenAsync();
        Assert.Equal(2, (await Storage.Rosters.GetChangesSinceAsync(D, "juliet", 0))!.Changes.Count);
    }

    [Fact]
    public async Task Removals_beyond_the_kept_number_make_older_versions_unknown()
    {
        var rosters = Storage.Rosters;
        long version = 0;
        for (var i = 0; i <= IRosterStore.RemovalsKept; i++)
        {
            var jid = $"c{i}@example.org";
            await rosters.SetItemAsync(D, "juliet", RosterItem.Create(jid));
            version = (await rosters.RemoveItemAsync(D, "juliet", jid))!.Value;
        }
        // The first removal (version 2) is forgotten: from before it the changes are not known, after it they are.
        Assert.Null(await rosters.GetChangesSinceAsync(D, "juliet", 0));
        Assert.Null(await rosters.GetChangesSinceAsync(D, "juliet", 1));
        var kept = (await rosters.GetChangesSinceAsync(D, "juliet", 2))!;
        Assert.Equal(IRosterStore.RemovalsKept, kept.Changes.Count);
        Assert.All(kept.Changes, c => Assert.Null(c.Item));
        Assert.Equal(version, kept.Changes[^1].Version);
        Assert.Empty((await rosters.GetChangesSinceAsync(D, "juliet", version))!.Changes);
    }

    [Fact]
    public async Task Counts_are_of_this_account_items_and_pending_requests()
    {
        var rosters = Storage.Rosters;
        Assert.Equal((0, 0), await rosters.CountAsync(D, "juliet"));
        await rosters.SetItemAsync(D, "juliet", RosterItem.Create("romeo@example.org"));
        await rosters.SetItemAsync(D, "juliet", RosterItem.Create("nurse@example.org"));
        await rosters.SetItemAsync(D, "juliet", RosterItem.Create("nurse@example.org") with { Name = "Nurse" }); // replaced, not added
        await rosters.SetItemAsync(D, "romeo", RosterItem.Create("juliet@example.org"));
        await rosters.SetPendingAsync(D, "juliet", new PendingSubscription("tybalt@example.org", "<presence type='subscribe'/>", DateTimeOffset.UtcNow));
        Assert.Equal((2, 1), await rosters.CountAsync(D, "juliet"));
        Assert.Equal((1, 0), await rosters.CountAsync(D, "romeo"));
        await rosters.RemoveItemAsync(D, "juliet", "romeo@example.org");
        await rosters.RemovePendingAsync(D, "juliet", "tybalt@example.org");
        Assert.Equal((1, 0), await rosters.CountAsync(D, "juliet"));
    }

    [Fact]
    public async Task Setting_an_item_for_a_missing_account_fails()
    {
        await Assert.ThrowsAsync<StorageException>(async () => await Storage.Rosters.SetItemAsync(D, "nobody", RosterItem.Create("a@b")));
    }

    [Fact]
    public async Task Pending_subscriptions_are_kept_with_their_stanza_until_removed()
    {
        var rosters = Storage.Rosters;
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        await rosters.SetPendingAsync(D, "juliet", new PendingSubscription("romeo@example.org", "<presence type='subscribe'/>", at));
        await rosters.SetPendingAsync(D, "juliet", new PendingSubscription("nurse@example.org", "<presence type='subscribe'><status>hi</status></presence>", at.AddSeconds(1)));
        await rosters.SetPendingAsync(D, "juliet", new PendingSubscription("romeo@example.org", "<presence type='subscribe'><status>again</status></presence>", at.AddSeconds(2)));
        var list = await rosters.ListPendingAsync(D, "juliet");
        Assert.Equal(["romeo@example.org", "nurse@example.org"], list.Select(p => p.Jid));
        Assert.Contains("again", list[0].Stanza, StringComparison.Ordinal);
        Assert.Equal(at, list[0].ReceivedAt);
        Assert.NotNull(await rosters.GetPendingAsync(D, "juliet", "nurse@example.org"));
        Assert.True(await rosters.RemovePendingAsync(D, "juliet", "nurse@example.org"));
        Assert.False(await rosters.RemovePendingAsync(D, "juliet", "nurse@example.org"));
        Assert.Null(await rosters.GetPendingAsync(D, "juliet", "nurse@example.org"));
        // Pending requests are not roster items and do not change the version.
        Assert.Equal(0, await rosters.GetVersionAsync(D, "juliet"));
    }

    [Fact]
    public async Task Offline_messages_are_kept_in_order_within_the_quota()
    {
        var offline = Storage.Offline;
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(OfflineStoreResult.Stored, await offline.StoreAsync(D, "juliet", $"<message><body>{i}</body></message>", at.AddSeconds(i), maxPerUser: 3));
        }
        Assert.Equal(OfflineStoreResult.QuotaExceeded, await offline.StoreAsync(D, "juliet", "<message/>", at, maxPerUser: 3));
        Assert.Equal(OfflineStoreResult.NoSuchAccount, await offline.StoreAsync(D, "nobody", "<message/>", at, maxPerUser: 3));
        Assert.Equal(3, await offline.CountAsync(D, "juliet"));
        Assert.Equal(0, await offline.CountAsync(D, "romeo"));

        var first = await offline.ListAsync(D, "juliet", 2);
        Assert.Equal(2, first.Count);
        Assert.Contains("<body>0</body>", first[0].Stanza, StringComparison.Ordinal);
        Assert.Equal(at, first[0].StoredAt);
        Assert.Equal(2, await offline.DeleteAsync(D, "juliet", first.Select(m => m.Id).ToArray()));
        var rest = await offline.ListAsync(D, "juliet", 100);
        Assert.Single(rest);
        Assert.Contains("<body>2</body>", rest[0].Stanza, StringComparison.Ordinal);
        // Another account's ids are not deleted through this one.
        Assert.Equal(0, await offline.DeleteAsync(D, "romeo", [rest[0].Id]));
        Assert.Equal(1, await offline.CountAsync(D, "juliet"));
    }

    [Fact]
    public async Task Deleting_an_account_deletes_its_roster_pending_requests_and_offline_messages()
    {
        await Storage.Rosters.SetItemAsync(D, "juliet", RosterItem.Create("romeo@example.org"));
        await Storage.Rosters.SetPendingAsync(D, "juliet", new PendingSubscription("nurse@example.org", "<presence/>", DateTimeOffset.UtcNow));
        await Storage.Offline.StoreAsync(D, "juliet", "<message/>", DateTimeOffset.UtcNow, 10);
        await Storage.Rosters.SetItemAsync(D, "romeo", RosterItem.Create("juliet@example.org"));

        Assert.True(await Storage.Accounts.DeleteAsync(D, "juliet"));
        await Storage.Accounts.CreateAsync(Accounts.Make("juliet"));
        Assert.Empty((await Storage.Rosters.GetAsync(D, "juliet")).Items);
        Assert.Equal(0, await Storage.Rosters.GetVersionAsync(D, "juliet"));
        Assert.Empty(await Storage.Rosters.ListPendingAsync(D, "juliet"));
        Assert.Equal(0, await Storage.Offline.CountAsync(D, "juliet"));
        Assert.Single((await Storage.Rosters.GetAsync(D, "romeo")).Items); // others keep theirs
    }

    [Fact]
    public async Task Rosters_and_offline_messages_survive_reopening()
    {
        await Storage.Rosters.SetItemAsync(D, "juliet", new RosterItem("romeo@example.org", "Romeo", RosterSubscription.To, false, false, ["G"]));
        await Storage.Offline.StoreAsync(D, "juliet", "<message><body>kept</body></message>", DateTimeOffset.UtcNow, 10);
        await ReopenAsync();
        Assert.Equal(Backend.LatestSchemaVersion, Backend.SchemaVersion(Storage));
        Assert.Equal(RosterSubscription.To, (await Storage.Rosters.GetItemAsync(D, "juliet", "romeo@example.org"))!.Subscription);
        Assert.Contains("kept", (await Storage.Offline.ListAsync(D, "juliet", 10))[0].Stanza, StringComparison.Ordinal);
    }
}

public sealed class SqliteRosterAndOfflineStoreTests : RosterAndOfflineStoreTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => Task.FromResult<IStorageBackend>(new SqliteBackend());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresRosterAndOfflineStoreTests(PostgresFixture postgres) : RosterAndOfflineStoreTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => PostgresBackend.CreateAsync(postgres.Server);
}
