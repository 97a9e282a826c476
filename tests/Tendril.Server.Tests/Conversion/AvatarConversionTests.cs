using Tendril.Server.Features;
using System.Security.Cryptography;
using Tendril.Protocol;
using Tendril.Server.Features.PubSub;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Server.Tests.Pep;
using Tendril.Xml;

namespace Tendril.Server.Tests.Conversion;

/// <summary>XEP-0398: XEP-0084 user avatars in PEP and the vCard PHOTO of XEP-0153, converted both ways without loops.</summary>
public sealed class AvatarConversionTests : PepTestBase
{
    private const string V = "vcard-temp";
    private const string Data = "urn:xmpp:avatar:data";
    private const string Meta = "urn:xmpp:avatar:metadata";
    private static readonly byte[] s_png = [0x89, 0x50, 0x4e, 0x47, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    private static string Hash => Convert.ToHexStringLower(SHA1.HashData(s_png));

    private async Task<XmlElement> VCardAsync(TestClient c) => (await OkAsync(c, "get", "<vCard xmlns='vcard-temp'/>")).Element("vCard", V)!;

    private async Task<List<XmlElement>> ItemsAsync(TestClient c, string node)
    {
        var r = await OkAsync(c, "get", $"<pubsub xmlns='{PS}'><items node='{node}'/></pubsub>", "juliet@localhost");
        var list = new List<XmlElement>();
        foreach (var i in r.Element("pubsub", PS)!.Element("items", PS)!.Elements("item", PS)) list.Add(i);
        return list;
    }

    [Fact]
    public async Task Account_advertises_the_conversion()
    {
        var juliet = await LoginAsync("juliet");
        var info = await OkAsync(juliet, "get", $"<query xmlns='{Ns.DiscoInfo}'/>", "juliet@localhost");
        var vars = new List<string?>();
        foreach (var f in info.Element("query", Ns.DiscoInfo)!.Elements("feature")) vars.Add(f.GetAttribute("var"));
        Assert.Contains("urn:xmpp:pep-vcard-conversion:0", vars);
    }

    [Fact]
    public async Task Publishing_an_avatar_sets_the_vcard_photo_and_the_presence_hash_without_republishing()
    {
        var juliet = await LoginAsync("juliet", "r");
        var watcher = await LoginAsync("juliet", "w", Meta);
        await OkAsync(juliet, "set", "<vCard xmlns='vcard-temp'><FN>Juliet</FN></vCard>");
        Assert.Equal("result", (await PublishAsync(juliet, Data, $"<data xmlns='{Data}'>{Convert.ToBase64String(s_png)}</data>", Hash)).GetAttribute("type"));
        Assert.Equal("result", (await PublishAsync(juliet, Meta, $"<metadata xmlns='{Meta}'><info id='{Hash}' bytes='{s_png.Length}' type='image/png' width='1' height='1'/></metadata>", Hash)).GetAttribute("type"));
        await EventAsync(watcher, "juliet@localhost");
        await AssertNoEventAsync(watcher); // the vCard update did not publish the avatar again

        var vcard = await VCardAsync(juliet);
        Assert.Equal("Juliet", vcard.Element("FN", V)!.Text);
        var photo = vcard.Element("PHOTO", V)!;
        Assert.Equal("image/png", photo.Element("TYPE", V)!.Text);
        Assert.Equal(s_png, Convert.FromBase64String(photo.Element("BINVAL", V)!.Text));
        Assert.Single(await ItemsAsync(juliet, Meta));

        await juliet.SendAsync("<presence><status>hash</status></presence>");
        var presence = await juliet.WaitForAsync(e => e.Name == "presence" && e.Element("status")?.Text == "hash");
        Assert.Equal(Hash, presence.Element("x", "vcard-temp:x:update")!.Element("photo", "vcard-temp:x:update")!.Text);

        // Disabling the avatar (empty metadata) removes the PHOTO.
        await PublishAsync(juliet, Meta, $"<metadata xmlns='{Meta}'/>", "current");
        await EventAsync(watcher, "juliet@localhost");
        await AssertNoEventAsync(watcher);
        Assert.Null((await VCardAsync(juliet)).Element("PHOTO", V));
        Assert.Equal("Juliet", (await VCardAsync(juliet)).Element("FN", V)!.Text);
    }

    [Fact]
    public async Task Setting_a_vcard_photo_publishes_the_avatar_without_rewriting_the_vcard()
    {
        var juliet = await LoginAsync("juliet", "r", Meta);
        var spaced = Convert.ToBase64String(s_png).Insert(4, "\n ");
        await OkAsync(juliet, "set", $"<vCard xmlns='vcard-temp'><FN>Juliet</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>{spaced}</BINVAL></PHOTO></vCard>");

        var ev = await EventAsync(juliet, "juliet@localhost");
        var info = ev.Element("event", PubSubNs.Event)!.Element("items", PubSubNs.Event)!.Element("item", PubSubNs.Event)!.Element("metadata", Meta)!.Element("info", Meta)!;
        Assert.Equal(Hash, info.GetAttribute("id"));
        Assert.Equal(s_png.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), info.GetAttribute("bytes"));
        Assert.Equal("image/png", info.GetAttribute("type"));
        Assert.Null(info.GetAttribute("width"));
        Assert.Null(info.GetAttribute("height"));
        await AssertNoEventAsync(juliet);

        var data = Assert.Single(await ItemsAsync(juliet, Data));
        Assert.Equal(Hash, data.GetAttribute("id"));
        Assert.Equal(s_png, Convert.FromBase64String(data.Element("data", Data)!.Text));
        var meta = Assert.Single(await ItemsAsync(juliet, Meta));
        Assert.Equal(Hash, meta.GetAttribute("id"));

        // The PEP publication did not convert back: the vCard is byte-for-byte what the client stored.
        Assert.Equal(spaced, (await VCardAsync(juliet)).Element("PHOTO", V)!.Element("BINVAL", V)!.Text);
    }
}
