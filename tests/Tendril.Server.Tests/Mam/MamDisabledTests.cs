using Tendril.Server.Configuration;
using Tendril.Server.Tests.Infrastructure;

namespace Tendril.Server.Tests.Mam;

/// <summary>Tendril:Mam:Enabled = false: nothing archived, no stanza ids, nothing advertised.</summary>
public sealed class MamDisabledTests : ImTestBase
{
    protected override void Configure(Configuration.TendrilOptions options) => options.Mam.Enabled = false;

    [Fact]
    public async Task Disabled_archive_adds_no_stanza_id_and_is_not_advertised()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await romeo.SendAsync("<message to='juliet@localhost' type='chat' id='d1'><body>hi</body></message>");
        var message = await juliet.WaitForAsync(e => e.Name == "message" && e.GetAttribute("id") == "d1");
        Assert.Null(message.Element("stanza-id", "urn:xmpp:sid:0"));
        Assert.DoesNotContain("urn:xmpp:mam:2", await DiscoFeaturesAsync(juliet, "juliet@localhost"));
        AssertError(await IqAsync(juliet, "set", "<query xmlns='urn:xmpp:mam:2'/>"), "service-unavailable", "cancel");
    }
}
