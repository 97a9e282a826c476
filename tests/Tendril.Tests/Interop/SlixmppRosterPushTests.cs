using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>
/// RFC 6121 §2.1.6 against the real process with python3-slixmpp: a roster set by one resource is pushed to the other
/// interested resource of the same account (add, update, remove), which keeps its roster in step.
/// </summary>
public sealed class SlixmppRosterPushTests
{
    [Fact]
    public async Task Roster_pushes_reach_a_second_resource_with_slixmpp()
    {
        await using var server = await TendrilProcess.StartAsync([("alice@localhost", "alice-secret"), ("bob@localhost", "bob-secret")]);
        using var result = await SlixmppScript.RunAsync(server, "slixmpp_roster_push.py", "alice@localhost", "alice-secret", "bob@localhost");
        var r = result.RootElement;
        Assert.Equal("alice@localhost/two", r.GetProperty("two").GetString());

        // The push that reached resource two: from the account itself (or no 'from'), with the item as set by one.
        var added = r.GetProperty("added");
        Assert.Contains(added.GetProperty("from").GetString(), new[] { "", "alice@localhost" });
        Assert.Equal("Bob", added.GetProperty("name").GetString());
        Assert.Equal(["Work"], added.GetProperty("groups").EnumerateArray().Select(g => g.GetString()));
        var afterAdd = r.GetProperty("after_add");
        Assert.Equal("Bob", afterAdd.GetProperty("name").GetString());
        Assert.Equal("none", afterAdd.GetProperty("subscription").GetString());

        var afterRename = r.GetProperty("after_rename");
        Assert.Equal("Robert", afterRename.GetProperty("name").GetString());
        Assert.Equal(["Friends", "Work"], afterRename.GetProperty("groups").EnumerateArray().Select(g => g.GetString()));

        Assert.Equal("remove", r.GetProperty("removed").GetProperty("subscription").GetString());
        Assert.Equal(JsonValueKind.Null, r.GetProperty("after_remove").ValueKind);

        // The resource that made the changes is interested too and got the same three pushes (§2.1.6).
        var toOne = r.GetProperty("pushes_to_one").EnumerateArray().Select(e => e.GetProperty("subscription").GetString()).ToList();
        Assert.Equal(["none", "none", "remove"], toOne);
    }
}
