using Tendril.Tests.Support;

namespace Tendril.Storage.Tests;

public abstract class MucStoreTests : StorageTestBase
{
    private const string S = "conference.example.org";

    private static MucRoomRecord Room(string name, bool isPublic = true, string creator = "juliet@example.org", string? title = null) =>
        new(S, name, new Dictionary<string, IReadOnlyList<string>> { ["muc#roomconfig_roomname"] = [title ?? ""], ["muc#roomconfig_presencebroadcast"] = ["moderator", "participant"] },
            isPublic, title, creator, DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));

    [Fact]
    public async Task A_room_round_trips_with_its_configuration_subject_and_affiliations()
    {
        var muc = Storage.Muc;
        Assert.Null(await muc.GetRoomAsync(S, "hall"));
        Assert.False(await muc.SetAffiliationsAsync(S, "hall", [new MucAffiliationRecord("romeo@example.org", "member")]));
        await muc.SaveRoomAsync(Room("hall", title: "The Hall"));
        Assert.True(await muc.SetAffiliationsAsync(S, "hall",
        [
            new MucAffiliationRecord("juliet@example.org", "owner"),
            new MucAffiliationRecord("romeo@example.org", "member", "Romeo"),
            new MucAffiliationRecord("tybalt@example.org", "outcast", Reason: "Fights"),
        ]));
        await muc.SaveRoomAsync(Room("hall", title: "The Hall") with { Subject = "Tonight", SubjectBy = "Juliet", SubjectAt = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_100_000) });

        var (room, affiliations) = (await muc.GetRoomAsync(S, "hall"))!.Value;
        Assert.Equal("The Hall", room.Title);
        Assert.Equal(["moderator", "participant"], room.Config["muc#roomconfig_presencebroadcast"]);
        Assert.Equal(("Tonight", "Juliet"), (room.Subject, room.SubjectBy));
        Assert.Equal(1_700_000_100_000, room.SubjectAt!.Value.ToUnixTimeMilliseconds());
        Assert.Equal(1_700_000_000_000, room.CreatedAt.ToUnixTimeMilliseconds());
        Assert.Equal(["juliet@example.org", "romeo@example.org", "tybalt@example.org"], affiliations.Select(a => a.Jid));
        Assert.Equal("Romeo", affiliations[1].Nick);
        Assert.Equal("Fights", affiliations[2].Reason);

        // "none" without a reserved nick deletes the row; "none" with one keeps the nick (a registered non-member).
        Assert.True(await muc.SetAffiliationsAsync(S, "hall", [new MucAffiliationRecord("tybalt@example.org", "none"), new MucAffiliationRecord("romeo@example.org", "none", "Romeo")]));
        (_, affiliations) = (await muc.GetRoomAsync(S, "hall"))!.Value;
        Assert.Equal(["juliet@example.org", "romeo@example.org"], affiliations.Select(a => a.Jid));
        Assert.Equal("none", affiliations[1].Affiliation);

        Assert.True(await muc.DeleteRoomAsync(S, "hall"));
        Assert.False(await muc.DeleteRoomAsync(S, "hall"));
        Assert.Null(await muc.GetRoomAsync(S, "hall"));
    }

    [Fact]
    public async Task Public_rooms_are_listed_in_name_order_in_pages_and_counted_per_creator()
    {
        var muc = Storage.Muc;
        foreach (var name in new[] { "delta", "alpha", "charlie", "bravo" }) await muc.SaveRoomAsync(Room(name));
        await muc.SaveRoomAsync(Room("hidden", isPublic: false, creator: "romeo@example.org"));
        await muc.SaveRoomAsync(Room("elsewhere") with { Service = "chat.example.org" });
        var first = await muc.ListRoomsAsync(S, null, 3);
        Assert.Equal(["alpha", "bravo", "charlie"], first.Rooms.Select(r => r.Name));
        Assert.Equal(4, first.Total);
        var next = await muc.ListRoomsAsync(S, "charlie", 3);
        Assert.Equal(["delta"], next.Rooms.Select(r => r.Name));
        var all = await muc.ListRoomsAsync(S, "charlie", 10, publicOnly: false);
        Assert.Equal(["delta", "hidden"], all.Rooms.Select(r => r.Name));
        Assert.Equal(5, all.Total);
        Assert.Equal(4, await muc.CountRoomsByCreatorAsync(S, "juliet@example.org"));
        Assert.Equal(1, await muc.CountRoomsByCreatorAsync(S, "romeo@example.org"));
    }

    [Fact]
    public async Task A_rooms_archive_takes_rows_only_for_a_stored_room_is_queried_like_an_accounts_and_goes_with_the_room()
    {
        var archive = Storage.Muc.Archive;
        static ArchivedMessage M(string id, int n) => new(id, DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000 + n), $"hall@{S}/Juliet", ArchiveDirection.Incoming, $"<message><body>{n}</body></message>");
        Assert.Equal(0, await archive.AppendBatchAsync([new ArchiveAppend(S, "hall", M("a", 1))]));
        await Storage.Muc.SaveRoomAsync(Room("hall"));
        Assert.Equal(2, await archive.AppendBatchAsync([new ArchiveAppend(S, "hall", M("a", 1)), new ArchiveAppend(S, "hall", M("b", 2))]));
        var page = await archive.QueryAsync(S, "hall", new ArchiveQuery { With = $"hall@{S}/Juliet", Max = 10 });
        Assert.Equal(["a", "b"], page.Items.Select(i => i.Id));
        Assert.Null(await archive.GetPreferencesAsync(S, "hall"));
        // A tombstone replaces a message in its place (XEP-0425): same id, same order.
        Assert.True(await archive.ReplaceAsync(S, "hall", "a", "<message><retracted/></message>"));
        Assert.False(await archive.ReplaceAsync(S, "hall", "nope", "<message/>"));
        var replaced = await archive.QueryAsync(S, "hall", new ArchiveQuery { Max = 10 });
        Assert.Equal(["a", "b"], replaced.Items.Select(i => i.Id));
        Assert.Equal("<message><retracted/></message>", replaced.Items[0].Stanza);
        // The accounts' archive knows nothing of it.
        Assert.Equal(0, (await Storage.Archive.QueryAsync(S, "hall", new ArchiveQuery())).Count);
        await Storage.Muc.DeleteRoomAsync(S, "hall");
        Assert.Equal(0, (await archive.QueryAsync(S, "hall", new ArchiveQuery())).Count);
    }

    [Fact]
    public async Task Rooms_survive_a_restart()
    {
        await Storage.Muc.SaveRoomAsync(Room("hall"));
        await Storage.Muc.SetAffiliationsAsync(S, "hall", [new MucAffiliationRecord("juliet@example.org", "owner")]);
        await ReopenAsync();
        var (room, affiliations) = (await Storage.Muc.GetRoomAsync(S, "hall"))!.Value;
        Assert.Equal("juliet@example.org", room.Creator);
        Assert.Single(affiliations);
    }
}

public sealed class SqliteMucStoreTests : MucStoreTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => Task.FromResult<IStorageBackend>(new SqliteBackend());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresMucStoreTests(PostgresFixture postgres) : MucStoreTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => PostgresBackend.CreateAsync(postgres.Server);
}
