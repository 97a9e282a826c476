using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.PrivateStorage;

/// <summary>XEP-0049 private XML storage.</summary>
public sealed class PrivateStorageTests : ImTestBase
{
    private const string P = "jabber:iq:private";

    [Fact]
    public async Task Data_is_stored_and_read_back_per_namespace()
    {
        await using var juliet = await LoginAsync("juliet");
        var nothing = await IqAsync(juliet, "get", "<query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query>");
        Assert.Equal("result", nothing.GetAttribute("type"));
        var emptyChild = nothing.Element("query", P)!.Element("exodus", "exodus:prefs")!;
        Assert.Null(emptyChild.FirstElement());

        Assert.Equal("result", (await IqAsync(juliet, "set",
            "<query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'><defaultnick>Hamlet</defaultnick></exodus>" +
            "<storage xmlns='storage:bookmarks'><conference jid='a@b' autojoin='true'/></storage></query>")).GetAttribute("type"));
        var prefs = await IqAsync(juliet, "get", "<query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query>", "juliet@localhost");
        Assert.Equal("Hamlet", prefs.Element("query", P)!.Element("exodus", "exodus:prefs")!.Element("defaultnick", "exodus:prefs")!.Text);
        var bookmarks = await IqAsync(juliet, "get", "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>");
        Assert.Equal("a@b", bookmarks.Element("query", P)!.Element("storage", "storage:bookmarks")!.Element("conference", "storage:bookmarks")!.GetAttribute("jid"));

        await IqAsync(juliet, "set", "<query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'><defaultnick>Juliet</defaultnick></exodus></query>");
        prefs = await IqAsync(juliet, "get", "<query xmlns='jabber:iq:private'><exodus xmlns='exodus:prefs'/></query>");
        Assert.Equal("Juliet", prefs.Element("query", P)!.Element("exodus", "exodus:prefs")!.Element("defaultnick", "exodus:prefs")!.Text);
    }

    [Theory]
    [InlineData("get", "<query xmlns='jabber:iq:private'/>", "not-acceptable", "modify")]
    [InlineData("set", "<query xmlns='jabber:iq:private'/>", "not-acceptable", "modify")]
    [InlineData("get", "<query xmlns='jabber:iq:private'><a xmlns='x:a'/><b xmlns='x:b'/></query>", "bad-request", "modify")]
    [InlineData("set", "<query xmlns='jabber:iq:private'><vCard xmlns='vcard-temp'><FN>H</FN></vCard></query>", "not-acceptable", "modify")]
    [InlineData("get", "<query xmlns='jabber:iq:private'><q xmlns='jabber:iq:roster'/></query>", "not-acceptable", "modify")]
    [InlineData("set", "<query xmlns='jabber:iq:private'><q xmlns='http://jabber.org/protocol/muc'/></query>", "not-acceptable", "modify")]
    [InlineData("set", "<query xmlns='jabber:iq:private'><plain/></query>", "not-acceptable", "modify")]
    public async Task Bad_requests_are_refused(string type, string payload, string condition, string errorType)
    {
        await using var juliet = await LoginAsync("juliet");
        AssertError(await IqAsync(juliet, type, payload), condition, errorType);
    }

    [Fact]
    public async Task Another_users_storage_is_forbidden_and_data_survives_a_restart()
    {
        await using (var juliet = await LoginAsync("juliet"))
        await using (var romeo = await LoginAsync("romeo"))
        {
            await IqAsync(juliet, "set", "<query xmlns='jabber:iq:private'><n xmlns='my:notes'>secret</n></query>");
            AssertError(await IqAsync(romeo, "get", "<query xmlns='jabber:iq:private'><n xmlns='my:notes'/></query>", "juliet@localhost"), "forbidden", "auth");
            AssertError(await IqAsync(romeo, "set", "<query xmlns='jabber:iq:private'><n xmlns='my:notes'>x</n></query>", "juliet@localhost"), "forbidden", "auth");
            var romeos = await IqAsync(romeo, "get", "<query xmlns='jabber:iq:private'><n xmlns='my:notes'/></query>");
            Assert.Equal("", romeos.Element("query", P)!.Element("n", "my:notes")!.Text);
        }
        var directory = Server.Directory;
        Server.KeepDirectory = true;
        await Server.DisposeAsync();
        await using var restarted = await TestServer.StartAsync(directory: directory);
        await using var juliet2 = await LoginAsync("juliet", server: restarted);
        var notes = await IqAsync(juliet2, "get", "<query xmlns='jabber:iq:private'><n xmlns='my:notes'/></query>");
        Assert.Equal("secret", notes.Element("query", P)!.Element("n", "my:notes")!.Text);
    }
}
