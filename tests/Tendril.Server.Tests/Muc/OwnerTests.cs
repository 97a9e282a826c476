using Tendril.Protocol;
using Tendril.Server.Configuration;
using Tendril.Server.Features.Muc;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Server.Tests.PubSub;

namespace Tendril.Server.Tests.Muc;

/// <summary>XEP-0045 §10 owner use cases (configuration, destruction), §7.10 registration, §6 discovery and persistence.</summary>
public sealed class OwnerTests : MucTestBase
{
    [Fact]
    public async Task The_configuration_form_shows_the_rooms_settings_and_a_change_is_announced_with_104()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateRoomAsync(j, "hall", "Juliet", ("muc#roomconfig_roomname", "The Hall"), ("muc#roomconfig_roomdesc", "Where we meet"));
        var form = (await OkAsync(j, "get", $"<query xmlns='{MucNs.Owner}'/>", Room("hall"))).Element("query", MucNs.Owner)!.Element("x", "jabber:x:data")!;
        string? Value(string var) => form.Els("field").First(f => f.GetAttribute("var") == var).Element("value")?.Text;
        Assert.Equal("The Hall", Value("muc#roomconfig_roomname"));
        Assert.Equal("0", Value("muc#roomconfig_persistentroom"));
        Assert.Equal("moderators", Value("muc#roomconfig_whois"));
        Assert.Equal("juliet@localhost", Value("muc#roomconfig_roomowners"));
        foreach (var var in new[] { "muc#roomconfig_publicroom", "muc#roomconfig_membersonly", "muc#roomconfig_moderatedroom", "muc#roomconfig_maxusers",
            "muc#roomconfig_changesubject", "muc#roomconfig_allowinvites", "muc#roomconfig_allowpm", "muc#roomconfig_presencebroadcast", "muc#maxhistoryfetch", "muc#roomconfig_lang" })
            Assert.NotNull(form.Els("field").FirstOrDefault(f => f.GetAttribute("var") == var));
        await ErrorAsync(r, "get", $"<query xmlns='{MucNs.Owner}'/>", Room("hall"), "auth", "forbidden");

        await EnterAsync(r, "hall", "Romeo");
        await ConfigureAsync(j, "hall", ("muc#roomconfig_whois", "anyone"));
        var notice = await FromAsync(r, "message", Room("hall"), m => UserX(m) is not null);
        Assert.Equal([MucStatus.ConfigurationChanged, MucStatus.NowNonAnonymous], StatusCodes(notice));
        await ErrorAsync(j, "set", $"<query xmlns='{MucNs.Owner}'>{Form(("muc#roomconfig_whois", "everybody"))}</query>", Room("hall"), "modify", "not-acceptable");

        var info = (await OkAsync(r, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", Room("hall"))).Element("query", Ns.DiscoInfo)!;
        Assert.Equal("The Hall", info.Element("identity")!.GetAttribute("name"));
        var features = info.Els("feature").Select(f => f.GetAttribute("var")).ToList();
        foreach (var f in new[] { MucNs.Muc, "muc_public", "muc_temporary", "muc_open", "muc_unmoderated", "muc_nonanonymous", "muc_unsecured", MucNs.OccupantId, MucNs.StanzaId })
            Assert.Contains(f, features);
        var roominfo = info.Element("x", "jabber:x:data")!;
        Assert.Contains(roominfo.Els("field"), f => f.GetAttribute("var") == "muc#roominfo_occupants" && f.Element("value")!.Text == "2");
        Assert.Contains(roominfo.Els("field"), f => f.GetAttribute("var") == "muc#roominfo_description" && f.Element("value")!.Text == "Where we meet");
    }

    [Fact]
    public async Task Destroying_a_room_tells_every_occupant_the_reason_and_the_alternate_venue()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateRoomAsync(j, "hall", "Juliet", ("muc#roomconfig_persistentroom", "1"));
        await EnterAsync(r, "hall", "Romeo");
        await ErrorAsync(r, "set", $"<query xmlns='{MucNs.Owner}'><destroy/></query>", Room("hall"), "auth", "forbidden");
        await OkAsync(j, "set", $"<query xmlns='{MucNs.Owner}'><destroy jid='{Room("garden")}'><reason>Moving</reason></destroy></query>", Room("hall"));
        var gone = await FromAsync(r, "presence", $"{Room("hall")}/Romeo");
        Assert.Equal("unavailable", gone.GetAttribute("type"));
        var destroy = UserX(gone)!.Element("destroy")!;
        Assert.Equal(Room("garden"), destroy.GetAttribute("jid"));
        Assert.Equal("Moving", destroy.Element("reason")!.Text);
        Assert.Null(await Server.Storage.Muc.GetRoomAsync(Service, "hall"));
        await ErrorAsync(r, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", Room("hall"), "cancel", "item-not-found");
    }

    [Fact]
    public async Task Public_rooms_are_listed_in_pages()
    {
        var j = await LoginAsync("juliet");
        foreach (var name in new[] { "alpha", "bravo", "charlie", "delta" }) await CreateRoomAsync(j, name, "Juliet", ("muc#roomconfig_persistentroom", name is "alpha" or "charlie" ? "1" : "0"));
        await CreateRoomAsync(j, "hidden", "Juliet", ("muc#roomconfig_publicroom", "0"));
        var first = (await OkAsync(j, "get", "<query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><max>3</max></set></query>", Service))
            .Element("query", Ns.DiscoItems)!;
        Assert.Equal([Room("alpha"), Room("bravo"), Room("charlie")], first.Els("item").Select(i => i.GetAttribute("jid")));
        var set = first.Element("set", "http://jabber.org/protocol/rsm")!;
        Assert.Equal("4", set.Element("count")!.Text);
        var last = set.Element("last")!.Text;
        var second = (await OkAsync(j, "get", $"<query xmlns='http://jabber.org/protocol/disco#items'><set xmlns='http://jabber.org/protocol/rsm'><max>3</max><after>{last}</after></set></query>", Service))
            .Element("query", Ns.DiscoItems)!;
        Assert.Equal([Room("delta")], second.Els("item").Select(i => i.GetAttribute("jid")));
    }

    [Fact]
    public async Task Registering_reserves_a_nick_and_makes_a_member()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        var t = await LoginAsync("tybalt");
        await CreateRoomAsync(j, "hall", "Juliet");
        var form = await OkAsync(r, "get", $"<query xmlns='{MucNs.IqRegister}'/>", Room("hall"));
        Assert.NotNull(form.Element("query", MucNs.IqRegister)!.Element("x", "jabber:x:data"));
        var submit = $"<query xmlns='{MucNs.IqRegister}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>{MucNs.Register}</value></field><field var='muc#register_roomnick'><value>Romeo</value></field></x></query>";
        await OkAsync(r, "set", submit, Room("hall"));
        var registered = (await OkAsync(r, "get", $"<query xmlns='{MucNs.IqRegister}'/>", Room("hall"))).Element("query", MucNs.IqRegister)!;
        Assert.NotNull(registered.Element("registered", MucNs.IqRegister));
        Assert.Equal("Romeo", registered.Element("username", MucNs.IqRegister)!.Text);
        var reserved = (await OkAsync(r, "get", "<query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'/>", Room("hall"))).Element("query", Ns.DiscoInfo)!;
        Assert.Equal("Romeo", reserved.Element("identity")!.GetAttribute("name"));

        // The nick is romeo's: tybalt cannot take it, nor register it.
        AssertError((await EnterAsync(t, "hall", "Romeo"))[^1], "cancel", "conflict");
        await ErrorAsync(t, "set", submit, Room("hall"), "cancel", "conflict");
        var entered = await EnterAsync(r, "hall", "Romeo");
        Assert.Equal("member", Item(entered.Single(IsSelfPresence)).GetAttribute("affiliation"));
    }

    [Fact]
    public async Task A_user_who_may_not_create_rooms_gets_not_allowed()
    {
        await using var server = await TestServer.StartAsync(o =>
        {
            o.Muc.RoomCreation = RoomCreation.Restricted;
            o.Admin.Users = ["juliet@localhost"];
        });
        await server.AddUserAsync("juliet", "pw");
        await server.AddUserAsync("romeo", "pw");
        var r = await LoginAsync("romeo", server: server);
        AssertError((await EnterAsync(r, "new", "Romeo"))[^1], "cancel", "not-allowed");
        var j = await LoginAsync("juliet", server: server);
        Assert.Contains(await EnterAsync(j, "new", "Juliet"), IsSelfPresence);
    }
}

/// <summary>Persistent rooms survive a restart with their configuration, affiliations and subject (loaded on first use).</summary>
public sealed class PersistenceTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tendril-muc-" + Guid.NewGuid().ToString("N"));

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_persistent_room_comes_back_after_a_restart_and_a_temporary_one_does_not()
    {
        await using (var server = await TestServer.StartAsync(directory: _directory))
        {
            server.KeepDirectory = true;
            foreach (var u in new[] { "juliet", "romeo" }) await server.AddUserAsync(u, "pw");
            await using var j = server.Connect();
            await j.LoginAsync("juliet", "pw", "r");
            await j.SendAsync($"<presence to='keep@{MucTestBase.Service}/Juliet'><x xmlns='{MucNs.Muc}'/></presence>");
            await j.WaitForAsync(e => e.Name == "message" && e.Element("subject") is not null);
            await j.SendAsync($"<iq type='set' id='c' to='keep@{MucTestBase.Service}'><query xmlns='{MucNs.Owner}'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_persistentroom'><value>1</value></field><field var='muc#roomconfig_roomname'><value>Kept</value></field></x></query></iq>");
            Assert.Equal("result", (await j.WaitForAsync(e => e.GetAttribute("id") == "c")).GetAttribute("type"));
            await j.SendAsync($"<iq type='set' id='a' to='keep@{MucTestBase.Service}'><query xmlns='{MucNs.Admin}'><item jid='romeo@localhost' affiliation='outcast'><reason>No</reason></item></query></iq>");
            Assert.Equal("result", (await j.WaitForAsync(e => e.GetAttribute("id") == "a")).GetAttribute("type"));
            await j.SendAsync($"<message to='keep@{MucTestBase.Service}' type='groupchat'><subject>Kept subject</subject></message>");
            await j.WaitForAsync(e => e.Name == "message" && e.Element("subject")?.Text == "Kept subject");
            await j.SendAsync($"<presence to='temp@{MucTestBase.Service}/Juliet'/>");
            await j.WaitForAsync(e => e.Name == "message" && e.GetAttribute("from")!.StartsWith("temp@", StringComparison.Ordinal) && e.Element("subject") is not null);
        }

        await using var restarted = await TestServer.StartAsync(directory: _directory);
        await using var r = restarted.Connect();
        await r.LoginAsync("romeo", "pw", "r");
        await r.SendAsync($"<iq type='get' id='i' to='keep@{MucTestBase.Service}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
        var info = await r.WaitForAsync(e => e.GetAttribute("id") == "i");
        Assert.Equal("Kept", info.Element("query", Ns.DiscoInfo)!.Element("identity")!.GetAttribute("name"));
        Assert.Contains(info.Element("query", Ns.DiscoInfo)!.Els("feature"), f => f.GetAttribute("var") == "muc_persistent");
        await r.SendAsync($"<presence to='keep@{MucTestBase.Service}/Romeo'><x xmlns='{MucNs.Muc}'/></presence>");
        var refused = await r.WaitForAsync(e => e.Name == "presence" && e.GetAttribute("type") == "error");
        Assert.NotNull(refused.Element("error")!.Element("forbidden", Ns.Stanzas));
        await r.SendAsync($"<iq type='get' id='t' to='temp@{MucTestBase.Service}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
        Assert.Equal("error", (await r.WaitForAsync(e => e.GetAttribute("id") == "t")).GetAttribute("type"));

        await using var j2 = restarted.Connect();
        await j2.LoginAsync("juliet", "pw", "r2");
        await j2.SendAsync($"<presence to='keep@{MucTestBase.Service}/Juliet'><x xmlns='{MucNs.Muc}'/></presence>");
        var subject = await j2.WaitForAsync(e => e.Name == "message" && e.Element("subject") is not null);
        Assert.Equal("Kept subject", subject.Element("subject")!.Text);
    }
}
