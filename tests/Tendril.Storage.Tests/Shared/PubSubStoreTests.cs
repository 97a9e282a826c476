using Tendril.Tests.Support;

namespace Tendril.Storage.Tests;

public abstract class PubSubStoreTests : StorageTestBase
{
    private const string Service = "pubsub.example.org";
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    private static Dictionary<string, IReadOnlyList<string>> Config(string access = "open") =>
        new() { ["pubsub#access_model"] = [access], ["pubsub#max_items"] = ["10"] };

    private IPubSubStore Store => Storage.PubSub;

    private async Task CreateAsync(string node = "news") =>
        Assert.True(await Store.CreateNodeAsync(new PubSubNodeRecord(Service, node, Config(), "juliet@example.org", At)));

    private static PubSubItemRecord Item(string id, string node = "news", int n = 0) =>
        new(Service, node, id, "juliet@example.org/a", $"<entry xmlns='urn:test'>{id}</entry>", At.AddSeconds(n));

    [Fact]
    public async Task Create_makes_the_creator_owner_and_refuses_duplicates()
    {
        await CreateAsync();
        Assert.False(await Store.CreateNodeAsync(new PubSubNodeRecord(Service, "news", Config(), "romeo@example.org", At)));
        var snapshot = await Store.LoadServiceAsync(Service);
        var node = Assert.Single(snapshot.Nodes);
        Assert.Equal("news", node.Node);
        Assert.Equal("juliet@example.org", node.Creator);
        Assert.Equal(At, node.CreatedAt);
        Assert.Equal(["open"], node.Config["pubsub#access_model"]);
        var owner = Assert.Single(snapshot.Affiliations);
        Assert.Equal(("juliet@example.org", "owner"), (owner.Jid, owner.Affiliation));
        Assert.Empty((await Store.LoadServiceAsync("pubsub.example.net")).Nodes);
    }

    [Fact]
    public async Task Items_are_ordered_newest_first_republishing_moves_an_item_and_max_items_trims()
    {
        await CreateAsync();
        for (var i = 1; i <= 5; i++) await Store.PublishItemAsync(Item("i" + i, n: i), maxItems: 4);
        var page = await Store.GetItemsAsync(Service, "news", null);
        Assert.Equal(4, page.Count);
        Assert.Equal(["i5", "i4", "i3", "i2"], page.Items.Select(i => i.ItemId));
        await Store.PublishItemAsync(Item("i3", n: 9), maxItems: 4);
        page = await Store.GetItemsAsync(Service, "news", 2);
        Assert.Equal(["i3", "i5"], page.Items.Select(i => i.ItemId));
        Assert.Equal("<entry xmlns='urn:test'>i3</entry>", page.Items[0].Payload);
        Assert.Equal("i3", Assert.Single((await Store.LoadServiceAsync(Service)).LastItems).ItemId);

        // RSM: after (older), before (newer), before '' (oldest page).
        Assert.Equal(["i4", "i2"], (await Store.GetItemsAsync(Service, "news", 2, after: "i5")).Items.Select(i => i.ItemId));
        Assert.Equal(["i3", "i5"], (await Store.GetItemsAsync(Service, "news", 2, before: "i4")).Items.Select(i => i.ItemId));
        Assert.Equal(["i4", "i2"], (await Store.GetItemsAsync(Service, "news", 2, before: "")).Items.Select(i => i.ItemId));
        Assert.Equal(["i3", "i2"], (await Store.GetItemsByIdAsync(Service, "news", ["i2", "i3", "nope"])).Select(i => i.ItemId));

        Assert.True(await Store.RetractItemAsync(Service, "news", "i3"));
        Assert.False(await Store.RetractItemAsync(Service, "news", "i3"));
        await Store.PurgeItemsAsync(Service, "news");
        Assert.Equal(0, (await Store.GetItemsAsync(Service, "news", null)).Count);
    }

    [Fact]
    public async Task Subscriptions_affiliations_and_config_round_trip_and_go_with_the_node()
    {
        await CreateAsync();
        await CreateAsync("other");
        await Store.SetSubscriptionAsync(new PubSubSubscriptionRecord(Service, "news", "romeo@example.org", "s1", PubSubSubscriptionState.Pending, new Dictionary<string, IReadOnlyList<string>>()));
        await Store.SetSubscriptionAsync(new PubSubSubscriptionRecord(Service, "news", "romeo@example.org", "s1", PubSubSubscriptionState.Subscribed,
            new Dictionary<string, IReadOnlyList<string>> { ["pubsub#deliver"] = ["false"] }));
        await Store.SetSubscriptionAsync(new PubSubSubscriptionRecord(Service, "other", "romeo@example.org/x", "s2", PubSubSubscriptionState.Subscribed, new Dictionary<string, IReadOnlyList<string>>()));
        await Store.SetAffiliationAsync(Service, "news", "romeo@example.org", "publisher");
        await Store.SetAffiliationAsync(Service, "news", "romeo@example.org", "member");
        await Store.SetAffiliationAsync(Service, "news", "nurse@example.org", "outcast");
        await Store.SetAffiliationAsync(Service, "news", "nurse@example.org", "none");
        Assert.True(await Store.UpdateNodeConfigAsync(Service, "news", Config("whitelist")));
        Assert.False(await Store.UpdateNodeConfigAsync(Service, "missing", Config()));
        await Store.PublishItemAsync(Item("a"), null);

        var snapshot = await Store.LoadServiceAsync(Service);
        var sub = Assert.Single(snapshot.Subscriptions, s => s.Node == "news");
        Assert.Equal(PubSubSubscriptionState.Subscribed, sub.State);
        Assert.Equal(["false"], sub.Options["pubsub#deliver"]);
        Assert.Contains(snapshot.Affiliations, a => a is { Node: "news", Jid: "romeo@example.org", Affiliation: "member" });
        Assert.DoesNotContain(snapshot.Affiliations, a => a.Jid == "nurse@example.org");
        Assert.Equal(["whitelist"], snapshot.Nodes.Single(n => n.Node == "news").Config["pubsub#access_model"]);

        Assert.True(await Store.DeleteNodeAsync(Service, "news"));
        Assert.False(await Store.DeleteNodeAsync(Service, "news"));
        snapshot = await Store.LoadServiceAsync(Service);
        Assert.Equal("other", Assert.Single(snapshot.Nodes).Node);
        Assert.All(snapshot.Subscriptions, s => Assert.Equal("other", s.Node));
        Assert.All(snapshot.Affiliations, a => Assert.Equal("other", a.Node));
        Assert.Empty(snapshot.LastItems);
        Assert.True(await Store.RemoveSubscriptionAsync(Service, "other", "romeo@example.org/x", "s2"));
    }

    [Fact]
    public async Task Several_services_load_at_once_each_with_its_own_nodes()
    {
        await CreateAsync();
        await Store.PublishItemAsync(Item("a"), 10);
        await Store.PublishItemAsync(Item("b", n: 1), 10);
        const string pep = "juliet@example.org";
        Assert.True(await Store.CreateNodeAsync(new PubSubNodeRecord(pep, "urn:xmpp:avatar:metadata", Config("presence"), pep, At)));
        await Store.SetSubscriptionAsync(new PubSubSubscriptionRecord(pep, "urn:xmpp:avatar:metadata", "romeo@example.org", "s", PubSubSubscriptionState.Subscribed, new Dictionary<string, IReadOnlyList<string>>()));

        var all = await Store.LoadServicesAsync([Service, pep, "nobody@example.org", pep]);
        Assert.Equal(3, all.Count);
        Assert.Equal("news", Assert.Single(all[Service].Nodes).Node);
        Assert.Equal("b", Assert.Single(all[Service].LastItems).ItemId);
        Assert.Empty(all[Service].Subscriptions);
        Assert.Equal("urn:xmpp:avatar:metadata", Assert.Single(all[pep].Nodes).Node);
        Assert.Equal("romeo@example.org", Assert.Single(all[pep].Subscriptions).Jid);
        Assert.Equal(pep, Assert.Single(all[pep].Affiliations).Jid);
        Assert.Empty(all["nobody@example.org"].Nodes);
        Assert.Empty(await Store.LoadServicesAsync([]));
    }

    [Fact]
    public async Task Pubsub_data_survives_reopening()
    {
        await CreateAsync();
        await Store.PublishItemAsync(Item("a"), 10);
        await ReopenAsync();
        var snapshot = await Store.LoadServiceAsync(Service);
        Assert.Single(snapshot.Nodes);
        Assert.Equal("a", Assert.Single(snapshot.LastItems).ItemId);
    }
}

public sealed class SqlitePubSubStoreTests : PubSubStoreTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => Task.FromResult<IStorageBackend>(new SqliteBackend());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresPubSubStoreTests(PostgresFixture postgres) : PubSubStoreTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => PostgresBackend.CreateAsync(postgres.Server);
}
