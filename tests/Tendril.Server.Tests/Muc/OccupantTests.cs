using Tendril.Protocol;
using Tendril.Server.Features.Muc;
using Tendril.Server.Tests.PubSub;

namespace Tendril.Server.Tests.Muc;

/// <summary>XEP-0045 §6 (discovery) and §7 (occupant use cases): entering, talking, nick changes, leaving.</summary>
public sealed class OccupantTests : MucTestBase
{
    [Fact]
    public async Task The_service_is_listed_with_its_identity_and_features()
    {
        var j = await LoginAsync("juliet");
        var items = await OkAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#items'/>", "localhost");
        Assert.Contains(items.Element("query", Ns.DiscoItems)!.Els("item"), i => i.GetAttribute("jid") == Service);
        var info = (await OkAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", Service)).Element("query", Ns.DiscoInfo)!;
        Assert.Equal(("conference", "text"), (info.Element("identity")!.GetAttribute("category"), info.Element("identity")!.GetAttribute("type")));
        var features = info.Els("feature").Select(f => f.GetAttribute("var")).ToList();
        Assert.Contains(MucNs.Muc, features);
        Assert.Contains(MucNs.Unique, features);
        var unique = (await OkAsync(j, "get", $"<unique xmlns='{MucNs.Unique}'/>", Service)).Element("unique", MucNs.Unique)!.Text;
        Assert.Equal(32, unique.Length);
        // A room that does not exist: item-not-found for an iq, nothing created.
        await ErrorAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", Room("nowhere"), "cancel", "item-not-found");
    }

    [Fact]
    public async Task A_new_room_is_locked_until_its_owner_accepts_it_and_then_everyone_sees_everyone()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        var entered = await EnterAsync(j, "balcony", "Juliet");
        var self = entered.Single(IsSelfPresence);
        Assert.Equal($"{Room("balcony")}/Juliet", self.GetAttribute("from"));
        Assert.Equal([MucStatus.Created, MucStatus.Self], StatusCodes(self));
        Assert.Equal(("owner", "moderator"), (Item(self).GetAttribute("affiliation"), Item(self).GetAttribute("role")));
        Assert.Equal("", entered[^1].Element("subject")!.Text);

        // Locked (§10.1.1): romeo cannot enter yet.
        var refused = await EnterAsync(r, "balcony", "Romeo");
        AssertError(refused[^1], "cancel", "item-not-found");

        await OkAsync(j, "set", $"<query xmlns='{MucNs.Owner}'><x xmlns='jabber:x:data' type='submit'/></query>", Room("balcony"));
        var romeoSees = await EnterAsync(r, "balcony", "Romeo");
        var julietAsSeen = romeoSees.Single(e => e.Name == "presence" && e.GetAttribute("from") == $"{Room("balcony")}/Juliet");
        Assert.Null(Item(julietAsSeen).GetAttribute("jid")); // semi-anonymous by default: real JIDs for moderators only
        Assert.NotNull(julietAsSeen.Element("occupant-id", MucNs.OccupantId));
        var romeoSelf = romeoSees.Single(IsSelfPresence);
        Assert.Equal([MucStatus.Self], StatusCodes(romeoSelf));
        Assert.Equal(("none", "participant"), (Item(romeoSelf).GetAttribute("affiliation"), Item(romeoSelf).GetAttribute("role")));

        // Juliet (a moderator) sees romeo's real JID.
        var romeoAsSeen = await FromAsync(j, "presence", $"{Room("balcony")}/Romeo");
        Assert.Equal(r.Jid, Item(romeoAsSeen).GetAttribute("jid"));
    }

    [Fact]
    public async Task Groupchat_messages_reach_every_occupant_with_the_rooms_stanza_id_and_the_senders_occupant_id()
    {
        var (j, r, n) = await RoomOfThreeAsync("hall");

        await r.SendAsync($"<message to='{Room("hall")}' type='groupchat' id='m1'><body>Hello</body><stanza-id xmlns='urn:xmpp:sid:0' by='{Room("hall")}' id='forged'/><occupant-id xmlns='{MucNs.OccupantId}' id='forged'/></message>");
        var seen = new List<string?>();
        foreach (var c in new[] { j, r, n })
        {
            var m = await FromAsync(c, "message", $"{Room("hall")}/Romeo");
            Assert.Equal("groupchat", m.GetAttribute("type"));
            Assert.Equal("m1", m.GetAttribute("id"));
            Assert.Equal(c.Jid, m.GetAttribute("to"));
            Assert.Equal("Hello", m.Element("body")!.Text);
            var ids = m.Els("stanza-id", MucNs.StanzaId);
            Assert.Single(ids);
            Assert.NotEqual("forged", ids[0].GetAttribute("id"));
            Assert.Single(m.Els("occupant-id", MucNs.OccupantId));
            seen.Add(ids[0].GetAttribute("id"));
        }
        Assert.Single(seen.Distinct());

        // Someone not in the room: not-acceptable (§7.4), and nobody gets anything.
        var t = await LoginAsync("tybalt");
        await t.SendAsync($"<message to='{Room("hall")}' type='groupchat' id='m2'><body>Hi</body></message>");
        AssertError(await FromAsync(t, "message", Room("hall")), "modify", "not-acceptable");
        Assert.DoesNotContain(await DrainAsync(j), e => e.Name == "message");
    }

    [Fact]
    public async Task A_late_comer_gets_the_history_it_asks_for_with_delay_stamps_then_the_subject()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        var n = await LoginAsync("nurse");
        await CreateRoomAsync(j, "hall", "Juliet");
        for (var i = 1; i <= 5; i++) await j.SendAsync($"<message to='{Room("hall")}' type='groupchat'><body>line {i}</body></message>");
        await j.SendAsync($"<message to='{Room("hall")}' type='groupchat'><subject>Tonight</subject></message>");
        await FromAsync(j, "message", $"{Room("hall")}/Juliet", m => m.Element("subject") is not null);

        var all = await EnterAsync(r, "hall", "Romeo");
        var history = all.Where(e => e.Name == "message" && e.Element("body") is not null).ToList();
        Assert.Equal(["line 1", "line 2", "line 3", "line 4", "line 5"], history.Select(m => m.Element("body")!.Text));
        Assert.All(history, m => Assert.Equal(Room("hall"), m.Element("delay", Ns.Delay)!.GetAttribute("from")));
        Assert.Equal("Tonight", all[^1].Element("subject")!.Text);
        Assert.Equal($"{Room("hall")}/Juliet", all[^1].GetAttribute("from"));

        var two = await EnterAsync(n, "hall", "Nurse", "<history maxstanzas='2'/>");
        Assert.Equal(["line 4", "line 5"], two.Where(e => e.Element("body") is not null).Select(m => m.Element("body")!.Text));
    }

    [Fact]
    public async Task A_nickname_in_use_is_a_conflict_a_nick_change_is_303_and_leaving_tells_everyone()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateRoomAsync(j, "hall", "Juliet");
        var conflict = await EnterAsync(r, "hall", "Juliet");
        AssertError(conflict[^1], "cancel", "conflict");
        await EnterAsync(r, "hall", "Romeo");
        await DrainAsync(j);

        await r.SendAsync($"<presence to='{Room("hall")}/Montague'/>");
        var gone = await FromAsync(j, "presence", $"{Room("hall")}/Romeo");
        Assert.Equal("unavailable", gone.GetAttribute("type"));
        Assert.Contains(MucStatus.NickChanged, StatusCodes(gone));
        Assert.Equal("Montague", Item(gone).GetAttribute("nick"));
        var back = await FromAsync(j, "presence", $"{Room("hall")}/Montague");
        Assert.Null(back.GetAttribute("type"));
        var selfGone = await FromAsync(r, "presence", $"{Room("hall")}/Romeo");
        Assert.Equal([MucStatus.NickChanged, MucStatus.Self], StatusCodes(selfGone));

        await r.SendAsync($"<presence to='{Room("hall")}/Montague' type='unavailable'><status>bye</status></presence>");
        var left = await FromAsync(j, "presence", $"{Room("hall")}/Montague");
        Assert.Equal("unavailable", left.GetAttribute("type"));
        Assert.Equal("bye", left.Element("status")!.Text);
        Assert.Equal("none", Item(left).GetAttribute("role"));
        var selfLeft = await FromAsync(r, "presence", $"{Room("hall")}/Montague");
        Assert.Contains(MucStatus.Self, StatusCodes(selfLeft));
    }

    [Fact]
    public async Task An_occupant_whose_session_ends_leaves_and_the_empty_temporary_room_goes_away()
    {
        var (j, r) = await RoomOfTwoAsync("hall");
        await r.DisposeAsync(); // the connection drops without unavailable presence
        var left = await FromAsync(j, "presence", $"{Room("hall")}/Romeo");
        Assert.Equal("unavailable", left.GetAttribute("type"));

        await j.SendAsync($"<presence to='{Room("hall")}/Juliet' type='unavailable'/>");
        await FromAsync(j, "presence", $"{Room("hall")}/Juliet");
        await ErrorAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", Room("hall"), "cancel", "item-not-found");
    }

    [Fact]
    public async Task Two_clients_of_one_user_share_a_nick_and_the_user_leaves_with_the_last()
    {
        var j = await LoginAsync("juliet");
        var r1 = await LoginAsync("romeo", "phone");
        var r2 = await LoginAsync("romeo", "laptop");
        await CreateRoomAsync(j, "hall", "Juliet");
        await EnterAsync(r1, "hall", "Romeo");
        var second = await EnterAsync(r2, "hall", "Romeo");
        Assert.Contains(second, IsSelfPresence);
        await DrainAsync(j);

        await j.SendAsync($"<message to='{Room("hall")}' type='groupchat'><body>both?</body></message>");
        await FromAsync(r1, "message", $"{Room("hall")}/Juliet");
        await FromAsync(r2, "message", $"{Room("hall")}/Juliet");

        await r1.SendAsync($"<presence to='{Room("hall")}/Romeo' type='unavailable'/>");
        await FromAsync(r1, "presence", $"{Room("hall")}/Romeo", p => p.GetAttribute("type") == "unavailable");
        Assert.DoesNotContain(await DrainAsync(j), e => e.Name == "presence"); // romeo is still in, from the laptop
        await r2.SendAsync($"<presence to='{Room("hall")}/Romeo' type='unavailable'/>");
        Assert.Equal("unavailable", (await FromAsync(j, "presence", $"{Room("hall")}/Romeo")).GetAttribute("type"));
    }

    [Fact]
    public async Task Private_messages_go_to_the_occupant_and_obey_the_rooms_setting()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateRoomAsync(j, "hall", "Juliet");
        await EnterAsync(r, "hall", "Romeo");
        await r.SendAsync($"<message to='{Room("hall")}/Juliet' type='chat' id='pm1'><body>psst</body></message>");
        var pm = await FromAsync(j, "message", $"{Room("hall")}/Romeo");
        Assert.Equal("chat", pm.GetAttribute("type"));
        Assert.Equal("psst", pm.Element("body")!.Text);
        Assert.NotNull(UserX(pm));

        await r.SendAsync($"<message to='{Room("hall")}/Nobody' type='chat' id='pm2'><body>?</body></message>");
        AssertError(await FromAsync(r, "message", $"{Room("hall")}/Nobody"), "cancel", "item-not-found");
        await r.SendAsync($"<message to='{Room("hall")}/Juliet' type='groupchat' id='pm3'><body>?</body></message>");
        AssertError(await FromAsync(r, "message", $"{Room("hall")}/Juliet", m => m.GetAttribute("type") == "error"), "modify", "bad-request");

        await ConfigureAsync(j, "hall", ("muc#roomconfig_allowpm", "none"));
        await r.SendAsync($"<message to='{Room("hall")}/Juliet' type='chat' id='pm4'><body>again</body></message>");
        AssertError(await FromAsync(r, "message", $"{Room("hall")}/Juliet", m => m.GetAttribute("type") == "error"), "auth", "forbidden");
    }

    [Fact]
    public async Task A_self_ping_is_answered_for_an_occupant_and_refused_for_someone_not_in_the_room()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateRoomAsync(j, "hall", "Juliet");
        await OkAsync(j, "get", "<ping xmlns='urn:xmpp:ping'/>", $"{Room("hall")}/Juliet");
        // XEP-0410 §4: a client that is not (or no longer) joined learns it from not-acceptable.
        await ErrorAsync(r, "get", "<ping xmlns='urn:xmpp:ping'/>", $"{Room("hall")}/Juliet", "modify", "not-acceptable");
    }

    [Fact]
    public async Task An_iq_to_an_occupant_is_passed_to_its_client_and_the_answer_comes_back()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateRoomAsync(j, "hall", "Juliet");
        await EnterAsync(r, "hall", "Romeo");
        await r.SendAsync($"<iq type='get' id='v1' to='{Room("hall")}/Juliet'><query xmlns='jabber:iq:version'/></iq>");
        var forwarded = await WaitForAsync(j, e => e.Name == "iq" && e.GetAttribute("type") == "get");
        Assert.Equal($"{Room("hall")}/Romeo", forwarded.GetAttribute("from"));
        Assert.NotEqual("v1", forwarded.GetAttribute("id"));
        await j.SendAsync($"<iq type='result' id='{forwarded.GetAttribute("id")}' to='{Room("hall")}/Romeo'><query xmlns='jabber:iq:version'><name>Balcony</name></query></iq>");
        var answer = await WaitForAsync(r, e => e.Name == "iq" && e.GetAttribute("id") == "v1");
        Assert.Equal("result", answer.GetAttribute("type"));
        Assert.Equal($"{Room("hall")}/Juliet", answer.GetAttribute("from"));
        Assert.Equal("Balcony", answer.Element("query", "jabber:iq:version")!.Element("name")!.Text);
    }
}

/// <summary>A graceful stop tells every occupant (XEP-0045 status 332) before the streams end.</summary>
public sealed class ShutdownTests : MucTestBase
{
    [Fact]
    public async Task Occupants_are_told_the_server_shuts_down_before_their_streams_end()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateRoomAsync(j, "hall", "Juliet");
        await EnterAsync(r, "hall", "Romeo");
        await DrainAsync(r);
        var stopping = Server.Server.StopAsync(TimeSpan.FromSeconds(5));
        var gone = await FromAsync(r, "presence", $"{Room("hall")}/Romeo", p => p.GetAttribute("type") == "unavailable");
        Assert.Equal([MucStatus.Self, MucStatus.Shutdown], StatusCodes(gone).Order());
        await r.ExpectStreamErrorAsync("system-shutdown");
        await stopping;
    }
}
