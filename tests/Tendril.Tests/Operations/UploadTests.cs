using System.Net;
using System.Net.Http.Headers;
using Tendril.Client;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Tests.Infrastructure;
using Tendril.Xml;

namespace Tendril.Tests.Operations;

/// <summary>XEP-0363 against the real process: slot over XMPP, PUT and GET over HTTP.</summary>
public sealed class UploadTests
{
    private const string UploadNs = "urn:xmpp:http:upload:0";

    private static Task<TendrilProcess> StartAsync() =>
        TendrilProcess.StartAsync([("juliet@localhost", "pw-juliet")], section =>
            section["Upload"] = new Dictionary<string, object> { ["MaxFileBytes"] = 100_000, ["QuotaBytesPerUser"] = 150_000 });

    private static XmlElement SlotRequest(string filename, long size, string? contentType = "application/octet-stream")
    {
        var request = new XmlElement("request", UploadNs).SetAttribute("filename", filename).SetAttribute("size", size.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (contentType is not null) request.SetAttribute("content-type", contentType);
        return new XmlElement("iq", Ns.Client).SetAttribute("type", "get").SetAttribute("to", "upload.localhost").Add(request);
    }

    private static List<XmlElement> All(XmlElement.ElementEnumerable elements)
    {
        var list = new List<XmlElement>();
        foreach (var e in elements) list.Add(e);
        return list;
    }

    private static (string Put, string Get) Urls(XmlElement result)
    {
        var slot = result.Element("slot", UploadNs)!;
        return (slot.Element("put")!.GetAttribute("url")!, slot.Element("get")!.GetAttribute("url")!);
    }

    private static HttpRequestMessage Put(string url, byte[] body, string contentType = "application/octet-stream")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return new HttpRequestMessage(HttpMethod.Put, url) { Content = content };
    }

    [Fact]
    public async Task Service_is_discovered_with_its_max_file_size_and_a_put_file_is_served_back()
    {
        await using var server = await StartAsync();
        await using var juliet = await server.ConnectAsync("juliet@localhost", "pw-juliet");
        using var http = new HttpClient();

        var items = await juliet.SendIqAsync(new XmlElement("iq", Ns.Client).SetAttribute("type", "get").SetAttribute("to", "localhost").Add(new XmlElement("query", Ns.DiscoItems)));
        Assert.Contains(All(items.Element("query", Ns.DiscoItems)!.Elements("item")), i => i.GetAttribute("jid") == "upload.localhost");
        var info = await juliet.SendIqAsync(new XmlElement("iq", Ns.Client).SetAttribute("type", "get").SetAttribute("to", "upload.localhost").Add(new XmlElement("query", Ns.DiscoInfo)));
        var query = info.Element("query", Ns.DiscoInfo)!;
        Assert.Contains(All(query.Elements("identity")), i => i.GetAttribute("category") == "store" && i.GetAttribute("type") == "file");
        Assert.Contains(All(query.Elements("feature")), f => f.GetAttribute("var") == UploadNs);
        var fields = All(query.Element("x", "jabber:x:data")!.Elements("field"));
        Assert.Equal(UploadNs, fields.Single(f => f.GetAttribute("var") == "FORM_TYPE").Element("value")!.Text);
        Assert.Equal("100000", fields.Single(f => f.GetAttribute("var") == "max-file-size").Element("value")!.Text);

        var bytes = new byte[54_321];
        Random.Shared.NextBytes(bytes);
        var (put, get) = Urls(await juliet.SendIqAsync(SlotRequest("photo of us.jpg", bytes.Length, "image/jpeg")));
        Assert.StartsWith($"http://localhost:{server.HttpPort}/upload/", put, StringComparison.Ordinal);
        Assert.EndsWith("/photo%20of%20us.jpg", put, StringComparison.Ordinal);
        put = put.Replace("http://localhost:", "http://127.0.0.1:", StringComparison.Ordinal);
        get = get.Replace("http://localhost:", "http://127.0.0.1:", StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(get)).StatusCode); // not uploaded yet
        Assert.Equal(HttpStatusCode.BadRequest, (await http.SendAsync(Put(put, bytes, "text/html"))).StatusCode); // wrong type: the slot is spent
        (put, get) = Urls(await juliet.SendIqAsync(SlotRequest("photo of us.jpg", bytes.Length, "image/jpeg")));
        put = put.Replace("http://localhost:", "http://127.0.0.1:", StringComparison.Ordinal);
        get = get.Replace("http://localhost:", "http://127.0.0.1:", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, (await http.SendAsync(Put(put, bytes, "image/jpeg"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(Put(put, bytes, "image/jpeg"))).StatusCode); // a slot is used once

        var response = await http.GetAsync(get);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/jpeg", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(bytes, await response.Content.ReadAsByteArrayAsync());
        Assert.Contains("sandbox", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(server.Directory, "data", "uploads", get.Split('/')[^2] + ".bin")));

        // Wrong or guessed URLs.
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(get.Replace("/upload/", "/upload/x", StringComparison.Ordinal))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(get[..get.LastIndexOf('/')] + "/other.jpg")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.SendAsync(Put($"http://127.0.0.1:{server.HttpPort}/upload/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/x.bin", [1, 2, 3]))).StatusCode);
    }

    [Fact]
    public async Task Too_large_files_get_file_too_large_and_the_quota_gets_resource_constraint()
    {
        await using var server = await StartAsync();
        await using var juliet = await server.ConnectAsync("juliet@localhost", "pw-juliet");
        using var http = new HttpClient();

        var tooLarge = await Assert.ThrowsAsync<XmppStanzaException>(() => juliet.SendIqAsync(SlotRequest("big.iso", 100_001)));
        Assert.Equal(StanzaErrorCondition.NotAcceptable, tooLarge.Error.Condition);
        Assert.Equal(StanzaErrorType.Modify, tooLarge.Error.Type);
        var app = tooLarge.Error.ApplicationCondition!;
        Assert.Equal("file-too-large", app.Name);
        Assert.Equal(UploadNs, app.Namespace);
        Assert.Equal("100000", app.Element("max-file-size")!.Text);

        var bad = await Assert.ThrowsAsync<XmppStanzaException>(() => juliet.SendIqAsync(SlotRequest("", 10)));
        Assert.Equal(StanzaErrorCondition.BadRequest, bad.Error.Condition);

        // 150000 bytes per account: two slots of 70000 fit, a third does not (outstanding slots count).
        var (put, _) = Urls(await juliet.SendIqAsync(SlotRequest("a.bin", 70_000)));
        await juliet.SendIqAsync(SlotRequest("b.bin", 70_000));
        var quota = await Assert.ThrowsAsync<XmppStanzaException>(() => juliet.SendIqAsync(SlotRequest("c.bin", 70_000)));
        Assert.Equal(StanzaErrorCondition.ResourceConstraint, quota.Error.Condition);
        Assert.Equal(StanzaErrorType.Wait, quota.Error.Type);

        // A PUT larger than the slot is refused.
        put = put.Replace("http://localhost:", "http://127.0.0.1:", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await http.SendAsync(Put(put, new byte[70_001]))).StatusCode);
    }
}
