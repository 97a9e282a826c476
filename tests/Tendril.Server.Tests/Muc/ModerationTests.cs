using Tendril.Server.Features.Muc;
using Tendril.Server.Tests.PubSub;

namespace Tendril.Server.Tests.Muc;

/// <summary>XEP-0045 §7.2 entrance rules, §8 moderator and §9 admin use cases: kick, ban, voice, affiliations.</summary>
public sealed class ModerationTests : MucTestBase
{
    private static string AdminItem(string attributes, string? reason = null) =>
        $"<query xmlns='{MucNs.Admin}'><item {attributes}>{(reason is null ? "" : $"<reason>{reason}</reason>")}</item></query>";

    [Fact]
    public async Task A_moderator_kicks_with_307_a_participant_may_not_and_nobody_kicks_an_admin()
    {
        var (j, r, n) = await RoomOfThreeAsync("hall");

        await ErrorAsync(n, "set", AdminItem("nick='Romeo' role='none'"), Room("hall"), "auth", "forbidden");
        await OkAsync(j, "set", AdminItem("nick='Romeo' role='none'", "Begone"), Room("hall"));
        foreach (var c in new[] { r, n })
        {
            var kicked = await FromAsync(c, "presence", $"{Room("hall")}/Romeo");
            Assert.Equal("unavailable", kicked.GetAttribute("type"));
            Assert.Contains(MucStatus.Kicked, StatusCodes(kicked));
            Assert.Equal("Begone", Item(kicked).Element("reason")!.Text);
            Assert.Equal("Juliet", Item(kicked).Element("actor")!.GetAttribute("nick"));
        }

        // An admin: its role cannot be taken by a moderator below owner... nor by an owner while it is admin.
        await OkAsync(j, "set", AdminItem($"jid='nurse@localhost' affiliation='admin'"), Room("hall"));
        var promoted = await FromAsync(n, "presence", $"{Room("hall")}/Nurse", p => Item(p).GetAttribute("affiliation") == "admin");
        Assert.Equal("moderator", Item(promoted).GetAttribute("role"));
        await ErrorAsync(j, "set", AdminItem("nick='Nurse' role='none'"), Room("hall"), "cancel", "not-allowed");
    }

    [Fact]
    public async Task A_ban_removes_every_session_with_301_and_keeps_the_user_out()
    {
        var (j, r) = await RoomOfTwoAsync("hall");
        await OkAsync(j, "set", AdminItem("jid='romeo@localhost' affiliation='outcast'", "Enough"), Room("hall"));
        var banned = await FromAsync(j, "presence", $"{Room("hall")}/Romeo");
        Assert.Contains(MucStatus.Banned, StatusCodes(banned));
        Assert.Equal("outcast", Item(banned).GetAttribute("affiliation"));
        var again = await EnterAsync(r, "hall", "Romeo");
        AssertError(again[^1], "auth", "forbidden");

        var list = await OkAsync(j, "get", AdminItem("affiliation='outcast'"), Room("hall"));
        var item = list.Element("query", MucNs.Admin)!.Element("item")!;
        Assert.Equal("romeo@localhost", item.GetAttribute("jid"));
        Assert.Equal("Enough", item.Element("reason")!.Text);
        // Lists are for admins and owners (§9.5).
        var t = await LoginAsync("tybalt");
        await ErrorAsync(t, "get", AdminItem("affiliation='outcast'"), Room("hall"), "auth", "forbidden");
    }

    [Fact]
    public async Task In_a_moderated_room_visitors_may_not_speak_until_given_voice()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateRoomAsync(j, "hall", "Juliet", ("muc#roomconfig_moderatedroom", "1"));
        var entered = await EnterAsync(r, "hall", "Romeo");
        Assert.Equal("visitor", Item(entered.Single(IsSelfPresence)).GetAttribute("role"));
        await r.SendAsync($"<message to='{Room("hall")}' type='groupchat' id='v'><body>hi</body></message>");
        AssertError(await FromAsync(r, "message", Room("hall"), m => m.GetAttribute("type") == "error"), "auth", "forbidden");

        // A voice request reaches the moderator as a form (§7.13); approving it gives voice (§8.6).
        await r.SendAsync($"<message to='{Room("hall")}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>{MucNs.Request}</value></field><field var='muc#role'><value>participant</value></field></x></message>");
        var request = await FromAsync(j, "message", Room("hall"), m => m.Element("x", "jabber:x:data") is not null);
        Assert.Contains(request.Element("x", "jabber:x:data")!.Els("field"), f => f.GetAttribute("var") == "muc#roomnick" && f.Element("value")!.Text == "Romeo");
        await j.SendAsync($"<message to='{Room("hall")}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>{MucNs.Request}</value></field><field var='muc#role'><value>participant</value></field><field var='muc#roomnick'><value>Romeo</value></field><field var='muc#request_allow'><value>true</value></field></x></message>");
        var voiced = await FromAsync(r, "presence", $"{Room("hall")}/Romeo", p => Item(p).GetAttribute("role") == "participant");
        Assert.Contains(MucStatus.Self, StatusCodes(voiced));
        await r.SendAsync($"<message to='{Room("hall")}' type='groupchat' id='v2'><body>now</body></message>");
        await FromAsync(j, "message", $"{Room("hall")}/Romeo", m => m.Element("body")?.Text == "now");

        // Revoking voice by the admin interface (§8.4).
        await OkAsync(j, "set", AdminItem("nick='Romeo' role='visitor'"), Room("hall"));
        await FromAsync(r, "presence", $"{Room("hall")}/Romeo", p => Item(p).GetAttribute("role") == "visitor");
    }

    [Fact]
    public async Task Password_members_only_and_full_rooms_refuse_with_the_xep_errors()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        var n = await LoginAsync("nurse");
        await CreateRoomAsync(j, "secret", "Juliet", ("muc#roomconfig_passwordprotectedroom", "1"), ("muc#roomconfig_roomsecret", "rose"));
        AssertError((await EnterAsync(r, "secret", "Romeo"))[^1], "auth", "not-authorized");
        AssertError((await EnterAsync(r, "secret", "Romeo", "<password>thorn</password>"))[^1], "auth", "not-authorized");
        Assert.Contains(await EnterAsync(r, "secret", "Romeo", "<password>rose</password>"), IsSelfPresence);

        await CreateRoomAsync(j, "club", "Juliet", ("muc#roomconfig_membersonly", "1"));
        AssertError((await EnterAsync(n, "club", "Nurse"))[^1], "auth", "registration-required");
        await OkAsync(j, "set", AdminItem("jid='nurse@localhost' affiliation='member'"), Room("club"));
        Assert.Contains(await EnterAsync(n, "club", "Nurse"), IsSelfPresence);

        await CreateRoomAsync(j, "small", "Juliet", ("muc#roomconfig_maxusers", "2"));
        Assert.Contains(await EnterAsync(r, "small", "Romeo"), IsSelfPresence);
        AssertError((await EnterAsync(n, "small", "Nurse"))[^1], "wait", "service-unavailable");
    }

    [Fact]
    public async Task Making_a_room_members_only_removes_non_members_with_322_and_membership_loss_is_321()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        var n = await LoginAsync("nurse");
        await CreateRoomAsync(j, "hall", "Juliet");
        await OkAsync(j, "set", AdminItem("jid='nurse@localhost' affiliation='member'"), Room("hall"));
        await EnterAsync(r, "hall", "Romeo");
        await EnterAsync(n, "hall", "Nurse");
        await DrainAsync(j);
        await ConfigureAsync(j, "hall", ("muc#roomconfig_membersonly", "1"));
        var removed = await FromAsync(j, "presence", $"{Room("hall")}/Romeo");
        Assert.Contains(MucStatus.MembersOnlyRemoved, StatusCodes(removed));
        await OkAsync(j, "set", AdminItem("jid='nurse@localhost' affiliation='none'"), Room("hall"));
        var lost = await FromAsync(n, "presence", $"{Room("hall")}/Nurse", p => p.GetAttribute("type") == "unavailable");
        Assert.Equal([MucStatus.AffiliationRemoved, MucStatus.Self], StatusCodes(lost));
    }

    [Fact]
    public async Task The_last_owner_stays_and_admins_may_not_touch_owners()
    {
        var j = await LoginAsync("juliet");
        var n = await LoginAsync("nurse");
        await CreateRoomAsync(j, "hall", "Juliet");
        await ErrorAsync(j, "set", AdminItem("jid='juliet@localhost' affiliation='admin'"), Room("hall"), "cancel", "conflict");
        await OkAsync(j, "set", AdminItem("jid='nurse@localhost' affiliation='admin'"), Room("hall"));
        await ErrorAsync(n, "set", AdminItem("jid='juliet@localhost' affiliation='outcast'"), Room("hall"), "cancel", "not-allowed");
        await ErrorAsync(n, "set", AdminItem("jid='tybalt@localhost' affiliation='owner'"), Room("hall"), "cancel", "not-allowed");
        await OkAsync(n, "set", AdminItem("jid='tybalt@localhost' affiliation='outcast'"), Room("hall"));
        // One bad item fails the whole request (nothing of it applied).
        await ErrorAsync(n, "set", $"<query xmlns='{MucNs.Admin}'><item jid='mercutio@localhost' affiliation='member'/><item jid='juliet@localhost' affiliation='none'/></query>", Room("hall"), "cancel", "not-allowed");
        var members = await OkAsync(j, "get", AdminItem("affiliation='member'"), Room("hall"));
        Assert.Empty(members.Element("query", MucNs.Admin)!.Els("item"));
    }

    [Fact]
    public async Task A_mediated_invitation_reaches_the_invitee_and_makes_a_member_of_a_members_only_room()
    {
        var j = await LoginAsync("juliet");
        var r = await LoginAsync("romeo");
        await CreateRoomAsync(j, "club", "Juliet", ("muc#roomconfig_membersonly", "1"));
        await j.SendAsync($"<message to='{Room("club")}'><x xmlns='{MucNs.User}'><invite to='romeo@localhost'><reason>Come</reason></invite></x></message>");
        var invitation = await FromAsync(r, "message", Room("club"));
        var invite = UserX(invitation)!.Element("invite")!;
        Assert.Equal("juliet@localhost", invite.GetAttribute("from"));
        Assert.Equal("Come", invite.Element("reason")!.Text);
        Assert.Contains(await EnterAsync(r, "club", "Romeo"), IsSelfPresence);

        // A decline goes back to the inviter (§7.8.2).
        var n = await LoginAsync("nurse");
        await n.SendAsync($"<message to='{Room("club")}'><x xmlns='{MucNs.User}'><decline to='juliet@localhost'><reason>Busy</reason></decline></x></message>");
        var declined = await FromAsync(j, "message", Room("club"), m => UserX(m)?.Element("decline") is not null);
        Assert.Equal("nurse@localhost", UserX(declined)!.Element("decline")!.GetAttribute("from"));
    }
}
