using Tendril.Server.Configuration;
using System.Security.Cryptography;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Server.Tests.VCard;

/// <summary>XEP-0054 vcard-temp and the server side of XEP-0153 vCard-based avatars.</summary>
public sealed class VCardTests : ImTestBase
{
    private const string V = "vcard-temp";
    private static readonly byte[] s_png = [0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4, 5, 6, 7, 8];
    private static string Hash => Convert.ToHexStringLower(SHA1.HashData(s_png));

    private static string WithPhoto(string name) =>
        $"<vCard xmlns='vcard-temp'><FN>{name}</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>{Convert.ToBase64String(s_png).Insert(4, "\n ")}</BINVAL></PHOTO></vCard>";

    protected override void Configure(Configuration.TendrilOptions options) => options.VCard.MaxBytes = 2048;

    [Fact]
    public async Task Get_returns_an_empty_vcard_then_the_one_set_by_the_owner_to_anyone()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        var empty = await IqAsync(juliet, "get", "<vCard xmlns='vcard-temp'/>");
        Assert.Equal("result", empty.GetAttribute("type"));
        Assert.Null(empty.Element("vCard", V)!.FirstElement());

        Assert.Equal("result", (await IqAsync(juliet, "set", "<vCard xmlns='vcard-temp'><FN>Juliet Capulet</FN><NICKNAME>J</NICKNAME></vCard>")).GetAttribute("type"));
        var own = (await IqAsync(juliet, "get", "<vCard xmlns='vcard-temp'/>", "juliet@localhost")).Element("vCard", V)!;
        Assert.Equal("Juliet Capulet", own.Element("FN", V)!.Text);
        var other = await IqAsync(romeo, "get", "<vCard xmlns='vcard-temp'/>", "juliet@localhost");
        Assert.Equal("juliet@localhost", other.GetAttribute("from"));
        Assert.Equal("J", other.Element("vCard", V)!.Element("NICKNAME", V)!.Text);

        // Replaced as a whole.
        await IqAsync(juliet, "set", "<vCard xmlns='vcard-temp'><FN>Juliet</FN></vCard>");
        var replaced = (await IqAsync(romeo, "get", "<vCard xmlns='vcard-temp'/>", "juliet@localhost")).Element("vCard", V)!;
        Assert.Null(replaced.Element("NICKNAME", V));
    }

    [Fact]
    public async Task Errors_for_someone_elses_vcard_a_large_vcard_and_a_missing_account()
    {
        await using var romeo = await LoginAsync("romeo");
        AssertError(await IqAsync(romeo, "set", "<vCard xmlns='vcard-temp'><FN>Not Juliet</FN></vCard>", "juliet@localhost"), "forbidden", "auth");
        var big = "<vCard xmlns='vcard-temp'><DESC>" + new string('x', 3000) + "</DESC></vCard>";
        AssertError(await IqAsync(romeo, "set", big), "not-acceptable", "modify");
        AssertError(await IqAsync(romeo, "get", "<vCard xmlns='vcard-temp'/>", "nobody@localhost"), "service-unavailable", "cancel");
        Assert.Null((await IqAsync(romeo, "get", "<vCard xmlns='vcard-temp'/>")).Element("vCard", V)!.FirstElement());
    }

    [Fact]
    public async Task Vcard_survives_a_restart()
    {
        await using (var juliet = await LoginAsync("juliet"))
        {
            await IqAsync(juliet, "set", WithPhoto("Juliet"));
        }
        var directory = Server.Directory;
        Server.KeepDirectory = true;
        await Server.DisposeAsync();
        await using var restarted = await TestServer.StartAsync(directory: directory);
        await using var romeo = await LoginAsync("romeo", server: restarted);
        var vcard = (await IqAsync(romeo, "get", "<vCard xmlns='vcard-temp'/>", "juliet@localhost")).Element("vCard", V)!;
        Assert.Equal("Juliet", vcard.Element("FN", V)!.Text);
        Assert.Equal(s_png, Convert.FromBase64String(vcard.Element("PHOTO", V)!.Element("BINVAL", V)!.Text.Replace("\n ", "", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Presence_carries_the_avatar_hash_the_server_knows()
    {
        await using var juliet = await LoginAsync("juliet");
        await using var romeo = await LoginAsync("romeo");
        await MakeBothAsync(juliet, romeo);

        // No vCard stored: presence is left as the client sent it.
        await juliet.SendAsync("<presence><status>plain</status></presence>");
        var plain = await romeo.WaitForAsync(e => e.Name == "presence" && e.Element("status")?.Text == "plain");
        Assert.Null(plain.Element("x", "vcard-temp:x:update"));

        await IqAsync(juliet, "set", WithPhoto("Juliet"));
        // A client that is not ready to advertise (empty update child) or does not know the protocol gets the hash filled in.
        await juliet.SendAsync("<presence><status>a</status><x xmlns='vcard-temp:x:update'/></presence>");
        await juliet.SendAsync("<presence><status>b</status></presence>");
        await juliet.SendAsync("<presence><status>c</status><x xmlns='vcard-temp:x:update'><photo>0000</photo></x></presence>");
        foreach (var status in new[] { "a", "b", "c" })
        {
            var p = await romeo.WaitForAsync(e => e.Name == "presence" && e.Element("status")?.Text == status);
            var x = p.Element("x", "vcard-temp:x:update")!;
            var count = 0;
            foreach (var _ in x.Elements()) count++;
            Assert.Equal(1, count);
            Assert.Equal(Hash, x.Element("photo", "vcard-temp:x:update")!.Text);
        }

        // A vCard without a photo: an empty photo element (no image to advertise).
        await IqAsync(juliet, "set", "<vCard xmlns='vcard-temp'><FN>Juliet</FN></vCard>");
        await juliet.SendAsync("<presence><status>d</status></presence>");
        var none = await romeo.WaitForAsync(e => e.Name == "presence" && e.Element("status")?.Text == "d");
        var photo = none.Element("x", "vcard-temp:x:update")!.Element("photo", "vcard-temp:x:update")!;
        Assert.Equal("", photo.Text);
    }

    [Fact]
    public async Task The_hash_is_known_at_the_next_login()
    {
        await using (var juliet = await LoginAsync("juliet"))
        {
            await IqAsync(juliet, "set", WithPhoto("Juliet"));
        }
        await using var romeo = await LoginAsync("romeo");
        await using var juliet2 = await LoginAsync("juliet", "second");
        await MakeBothAsync(juliet2, romeo);
        await juliet2.SendAsync("<presence><status>back</status></presence>");
        var p = await romeo.WaitForAsync(e => e.Name == "presence" && e.Element("status")?.Text == "back");
        Assert.Equal(Hash, p.Element("x", "vcard-temp:x:update")!.Element("photo", "vcard-temp:x:update")!.Text);
    }
}
