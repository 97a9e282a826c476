using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.Routing;

/// <summary>RFC 6121 §8.5 message rules not covered by RoutingTests: types at bare and missing full JIDs.</summary>
public sealed class MessageRulesTests : ImTestBase
{
    [Fact]
    public async Task Error_message_to_a_bare_jid_is_silently_dropped()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await juliet.SendAsync("<message to='romeo@localhost' type='error'><body>x</body></message>");
        Assert.Empty(await DrainAsync(juliet));
        Assert.Empty(await DrainAsync(romeo));
    }

    [Fact]
    public async Task Groupchat_to_a_bare_jid_is_service_unavailable()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await juliet.SendAsync("<message to='romeo@localhost' type='groupchat' id='g'><body>x</body></message>");
        AssertError(Assert.Single(await DrainAsync(juliet)), "service-unavailable", "cancel");
        Assert.Empty(await DrainAsync(romeo));
    }

    [Theory]
    [InlineData("normal", true)]
    [InlineData("groupchat", true)]
    [InlineData("headline", false)]
    [InlineData("error", false)]
    public async Task Message_to_a_missing_full_jid_is_not_redirected_unless_chat(string type, bool bounced)
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo", "garden");
        await juliet.SendAsync($"<message to='romeo@localhost/gone' type='{type}'><body>x</body></message>");
        var got = await DrainAsync(juliet);
        if (bounced) AssertError(Assert.Single(got), "service-unavailable", "cancel");
        else Assert.Empty(got);
        Assert.Empty(await DrainAsync(romeo));
        Assert.Equal(0, await Server.Storage.Offline.CountAsync("localhost", "romeo"));
    }

    [Fact]
    public async Task Chat_to_a_missing_full_jid_goes_to_the_highest_priority_resource()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var low = await LoginAsync("romeo", "low", priority: 1);
        await using var high = await LoginAsync("romeo", "high", priority: 7);
        await juliet.SendAsync("<message to='romeo@localhost/gone' type='chat'><body>x</body></message>");
        Assert.Empty(await DrainAsync(juliet));
        Assert.Single(await DrainAsync(high), e => e.Name == "message");
        Assert.DoesNotContain(await DrainAsync(low), e => e.Name == "message");
    }
}
