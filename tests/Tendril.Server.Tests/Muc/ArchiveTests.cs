using Tendril.Protocol;
using Tendril.Server.Configuration;
using Tendril.Server.Features.Muc;
using Tendril.Server.Tests.PubSub;
using Tendril.Xml;

namespace Tendril.Server.Tests.Muc;

/// <summary>XEP-0313 on the room JID (§5.1.2): a persistent room archives its groupchat messages under the stanza-ids its occupants got.</summary>
public sealed class ArchiveTests : MucTestBase
{
    private const string Mam = "urn:xmpp:mam:2";

    private async Task<(List<XmlElement> Results, XmlElement Fin)> QueryAsync(Infrastructure.TestClient c, string room, string inner = "")
    {
        var id = "mam" + Guid.NewGuid().ToString("N");
        await c.SendAsync($"<iq type='set' id='{id}' to='{Room(room)}'><query xmlns='{Mam}' queryid='q1'>{inner}</query></iq>");
        var results = new List<XmlElement>();
        while (true)
        {
            var e = await NextAsync(c);
            if (e.Name == "iq" && e.GetAttribute("id") == id)
            {
                Assert.True(e.GetAttribute("type") == "result", $"Expected a result, got {e}");
                return (results, e.Element("fin", Mam)!);
            }
            if (e.Name == "message" && e.Element("result", Mam) is { } r) results.Add(r);
        }
    }

    [Fact]
    public async Task A_persistent_room_archives_groupchat_under_the_stanza_ids_the_occupants_got()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateRoomAsync(j, "hall", "Juliet", ("muc#roomconfig_persistentroom", "1"));
        var entered = await EnterAsync(r, "hall", "Romeo");
        Assert.Contains(MucStatus.Logged, StatusCodes(entered.Single(IsSelfPresence)));
        var info = (await OkAsync(r, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", Room("hall"))).Element("query", Ns.DiscoInfo)!;
        Assert.Contains(info.Els("feature"), f => f.GetAttribute("var") == Mam);

        var ids = new List<string>();
        for (var i = 1; i <= 3; i++)
        {
            await j.SendAsync($"<message to='{Room("hall")}' type='groupchat' id='g{i}'><body>line {i}</body></message>");
            var got = await FromAsync(r, "message", $"{Room("hall")}/Juliet", m => m.Element("body")?.Text == $"line {i}");
            ids.Add(got.Element("stanza-id", MucNs.StanzaId)!.GetAttribute("id")!);
        }

        var (results, fin) = await QueryAsync(r, "hall");
        Assert.Equal("true", fin.GetAttribute("complete"));
        Assert.Equal(ids, results.Select(x => x.GetAttribute("id")));
        var first = results[0].Element("forwarded", "urn:xmpp:forward:0")!;
        Assert.NotNull(first.Element("delay", Ns.Delay));
        var original = first.Element("message", Ns.Client)!;
        Assert.Equal($"{Room("hall")}/Juliet", original.GetAttribute("from"));
        Assert.Equal("line 1", original.Element("body")!.Text);

        var (page, pageFin) = await QueryAsync(r, "hall", "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set>");
        Assert.Equal(ids[1..], page.Select(x => x.GetAttribute("id")));
        Assert.Equal("3", pageFin.Element("set", "http://jabber.org/protocol/rsm")!.Element("count")!.Text);
        var (fromRomeo, _) = await QueryAsync(r, "hall", $"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>{Mam}</value></field><field var='with'><value>{Room("hall")}/Romeo</value></field></x>");
        Assert.Empty(fromRomeo);
    }

    [Fact]
    public async Task A_members_only_rooms_archive_is_for_members_and_a_temporary_room_keeps_none()
    {
        var j = await LoginAsync("juliet");
        var t = await LoginAsync("tybalt");
        await CreateRoomAsync(j, "club", "Juliet", ("muc#roomconfig_persistentroom", "1"), ("muc#roomconfig_membersonly", "1"));
        await j.SendAsync($"<message to='{Room("club")}' type='groupchat'><body>secret</body></message>");
        await FromAsync(j, "message", $"{Room("club")}/Juliet");
        await ErrorAsync(t, "set", $"<query xmlns='{Mam}'/>", Room("club"), "auth", "forbidden");
        var (mine, _) = await QueryAsync(j, "club");
        Assert.Single(mine);

        await CreateRoomAsync(j, "temp", "Juliet");
        await j.SendAsync($"<message to='{Room("temp")}' type='groupchat'><body>gone</body></message>");
        await FromAsync(j, "message", $"{Room("temp")}/Juliet");
        var (none, _) = await QueryAsync(j, "temp");
        Assert.Empty(none);
    }

    [Fact]
    public async Task A_moderator_retracts_a_message_occupants_are_told_and_the_archive_keeps_a_tombstone()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        var n = await LoginAsync("nurse");
        await CreateRoomAsync(j, "hall", "Juliet", ("muc#roomconfig_persistentroom", "1"));
        await EnterAsync(r, "hall", "Romeo");
        await r.SendAsync($"<message to='{Room("hall")}' type='groupchat' id='spam1'><body>free potions</body></message>");
        var spam = await FromAsync(j, "message", $"{Room("hall")}/Romeo", m => m.Element("body")?.Text == "free potions");
        var id = spam.Element("stanza-id", MucNs.StanzaId)!.GetAttribute("id")!;
        var info = (await OkAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", Room("hall"))).Element("query", Ns.DiscoInfo)!;
        Assert.Contains(info.Els("feature"), f => f.GetAttribute("var") == MucRoom.ModerateNs);

        // Not a moderator: forbidden; an unknown id: item-not-found.
        var moderate = $"<moderate xmlns='{MucRoom.ModerateNs}' id='{id}'><retract xmlns='{MucRoom.RetractNs}'/><reason>Spam</reason></moderate>";
        await ErrorAsync(r, "set", moderate, Room("hall"), "auth", "forbidden");
        await ErrorAsync(j, "set", $"<moderate xmlns='{MucRoom.ModerateNs}' id='nope'><retract xmlns='{MucRoom.RetractNs}'/></moderate>", Room("hall"), "cancel", "item-not-found");

        await OkAsync(j, "set", moderate, Room("hall"));
        foreach (var c in new[] { j, r })
        {
            var notice = await FromAsync(c, "message", Room("hall"), m => m.Element("retract", MucRoom.RetractNs) is not null);
            var retract = notice.Element("retract", MucRoom.RetractNs)!;
            Assert.Equal(id, retract.GetAttribute("id"));
            Assert.Equal($"{Room("hall")}/Juliet", retract.Element("moderated", MucRoom.ModerateNs)!.GetAttribute("by"));
            Assert.Equal("Spam", retract.Element("reason", MucRoom.RetractNs)!.Text);
        }
        // The archive keeps the message's place with a tombstone; the history no longer has it.
        var (results, _) = await QueryAsync(j, "hall");
        var kept = results.Single().Element("forwarded", "urn:xmpp:forward:0")!.Element("message", Ns.Client)!;
        Assert.Equal(id, results.Single().GetAttribute("id"));
        Assert.Null(kept.Element("body"));
        Assert.NotNull(kept.Element("retracted", MucRoom.RetractNs)!.Element("moderated", MucRoom.ModerateNs));
        Assert.Equal($"{Room("hall")}/Romeo", kept.GetAttribute("from"));
        var history = await EnterAsync(n, "hall", "Nurse");
        Assert.DoesNotContain(history, e => e.Element("body")?.Text == "free potions");
    }
}

/// <summary>XEP-0424 in a room: an occupant retracts its own message; nobody else's.</summary>
public sealed class RetractionTests : MucTestBase
{
    [Fact]
    public async Task An_occupant_retracts_its_own_message_but_not_another_ones()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateRoomAsync(j, "hall", "Juliet", ("muc#roomconfig_persistentroom", "1"));
        await EnterAsync(r, "hall", "Romeo");
        await r.SendAsync($"<message to='{Room("hall")}' type='groupchat' id='oops'><body>typo</body></message>");
        var sent = await FromAsync(j, "message", $"{Room("hall")}/Romeo", m => m.Element("body")?.Text == "typo");
        var id = sent.Element("stanza-id", MucNs.StanzaId)!.GetAttribute("id")!;

        // juliet may not retract romeo's message this way.
        await j.SendAsync($"<message to='{Room("hall")}' type='groupchat' id='x'><retract xmlns='{MucRoom.RetractNs}' id='{id}'/><body>/me retracted</body></message>");
        var refused = await FromAsync(j, "message", Room("hall"), m => m.GetAttribute("type") == "error");
        AssertError(refused, "auth", "forbidden");

        await r.SendAsync($"<message to='{Room("hall")}' type='groupchat' id='undo'><retract xmlns='{MucRoom.RetractNs}' id='{id}'/><fallback xmlns='urn:xmpp:fallback:0' for='{MucRoom.RetractNs}'/><body>retracted</body></message>");
        var reflected = await FromAsync(j, "message", $"{Room("hall")}/Romeo", m => m.Element("retract", MucRoom.RetractNs) is not null);
        Assert.Equal(id, reflected.Element("retract", MucRoom.RetractNs)!.GetAttribute("id"));
        var archived = await Server.Storage.Muc.Archive.QueryAsync(Service, "hall", new Storage.ArchiveQuery { Ids = [id] });
        Assert.Contains("<retracted", archived.Items.Single().Stanza, StringComparison.Ordinal);
        Assert.DoesNotContain("typo", archived.Items.Single().Stanza, StringComparison.Ordinal);
    }
}

/// <summary>Room archive retention (Muc:ArchiveRetentionDays): old messages are swept, newer ones stay.</summary>
public sealed class ArchiveRetentionTests : MucTestBase
{
    protected override void Configure(TendrilOptions options) => options.Muc.ArchiveRetentionDays = 1;

    [Fact]
    public async Task Messages_older_than_the_retention_are_swept()
    {
        var j = await LoginAsync("juliet");
        await CreateRoomAsync(j, "hall", "Juliet", ("muc#roomconfig_persistentroom", "1"));
        await j.SendAsync($"<message to='{Room("hall")}' type='groupchat'><body>old</body></message>");
        await FromAsync(j, "message", $"{Room("hall")}/Juliet", m => m.Element("body")?.Text == "old");
        Server.Time!.Advance(TimeSpan.FromDays(2));
        await j.SendAsync($"<message to='{Room("hall")}' type='groupchat'><body>new</body></message>");
        await FromAsync(j, "message", $"{Room("hall")}/Juliet", m => m.Element("body")?.Text == "new");
        var service = Server.Server.ServerFeatures.OfType<MucFeature>().Single().Service!;
        Assert.Equal(1, await service.SweepArchiveAsync());
        var left = await Server.Storage.Muc.Archive.QueryAsync(Service, "hall", new Storage.ArchiveQuery());
        Assert.Equal(1, left.Count);
        Assert.Contains(">new<", left.Items[0].Stanza, StringComparison.Ordinal);
    }
}

