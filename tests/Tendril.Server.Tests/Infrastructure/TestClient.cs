using System.Buffers;
using System.Net.Security;
using System.Text;
using Tendril.Protocol;
using Tendril.Protocol.Sasl;
using Tendril.Xml;

namespace Tendril.Server.Tests.Infrastructure;

/// <summary>
/// A deliberately low-level test client: sends exact bytes (optionally in small chunks) and reads back parsed
/// events, so tests can assert precisely what the server answered to well-formed and malformed input.
/// </summary>
public sealed class TestClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private Stream _stream;
    private readonly XmlStreamParser _parser = new(new XmlParserOptions { MaxStanzaBytes = 1 << 20 });
    private readonly byte[] _readBuffer = new byte[16384];
    private ReadOnlySequence<byte> _pending = ReadOnlySequence<byte>.Empty;
    private bool _eof;

    public TestClient(Stream stream, bool directTls = false)
    {
        _stream = stream;
        DirectTls = directTls;
    }

    public bool DirectTls { get; }

    public string? Jid { get; private set; }

    /// <summary>The server's stream header of the current stream.</summary>
    public XmlElement? ServerHeader { get; private set; }

    public string Header(string to = "localhost", string version = "1.0", string ns = "jabber:client") =>
        $"<?xml version='1.0'?><stream:stream xmlns='{ns}' xmlns:stream='http://etherx.jabber.org/streams' to='{to}' version='{version}'>";

    public Task SendAsync(string xml)
    {
        if (xml.EndsWith("</stream:stream>", StringComparison.Ordinal)) _closeSent = true;
        return SendAsync(Encoding.UTF8.GetBytes(xml));
    }

    private bool _closeSent;

    public async Task SendAsync(byte[] bytes, int chunkSize = 0)
    {
        if (chunkSize <= 0)
        {
            await _stream.WriteAsync(bytes);
            await _stream.FlushAsync();
            return;
        }
        for (var i = 0; i < bytes.Length; i += chunkSize)
        {
            await _stream.WriteAsync(bytes.AsMemory(i, Math.Min(chunkSize, bytes.Length - i)));
            await _stream.FlushAsync();
        }
    }

    /// <summary>The next event from the server; null when the server closed the connection.</summary>
    public async Task<XmlStreamEvent?> NextEventAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        while (true)
        {
            if (!_pending.IsEmpty || _eof)
            {
                var buffer = _pending;
                if (_parser.TryRead(ref buffer, out var ev))
                {
                    _pending = buffer;
                    if (ev.Kind == XmlStreamEventKind.StreamStart) ServerHeader = ev.Element;
                    if (ev.Kind == XmlStreamEventKind.StreamEnd && !_closeSent)
                    {
                        // RFC 6120 §4.4: answer the server's closing tag with ours; the server then closes at once.
                        try { await SendAsync("</stream:stream>"); } catch (IOException) { } catch (ObjectDisposedException) { }
                    }
                    return ev;
                }
                _pending = ReadOnlySequence<byte>.Empty;
                if (_eof) return null;
            }
            int read;
            try
            {
                read = await _stream.ReadAsync(_readBuffer, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException("No data from the server in time.");
            }
            catch (IOException)
            {
                read = 0;
            }
            if (read == 0)
            {
                _eof = true;
                return null;
            }
            _pending = new ReadOnlySequence<byte>(_readBuffer.AsSpan(0, read).ToArray());
        }
    }

    /// <summary>The next top-level element (skipping nothing): fails on stream end.</summary>
    public async Task<XmlElement> NextAsync(TimeSpan? timeout = null)
    {
        var ev = await NextEventAsync(timeout);
        Assert.True(ev is not null, "The server closed the connection.");
        Assert.True(ev.Value.Kind == XmlStreamEventKind.Stanza, $"Expected an element, got {ev.Value.Kind}.");
        return ev.Value.Element!;
    }

    public async Task<XmlElement> ExpectAsync(string name, string? ns = null, TimeSpan? timeout = null)
    {
        var e = await NextAsync(timeout);
        Assert.True(e.Name == name && (ns is null || e.Namespace == ns), $"Expected <{name} xmlns='{ns}'/>, got {e}");
        return e;
    }

    /// <summary>Reads until an element matches; fails after the timeout.</summary>
    public async Task<XmlElement> WaitForAsync(Func<XmlElement, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException("No matching element.");
            var e = await NextAsync(left);
            if (match(e)) return e;
        }
    }

    public async Task<XmlElement> ExpectStreamHeaderAsync()
    {
        var ev = await NextEventAsync();
        Assert.True(ev is { Kind: XmlStreamEventKind.StreamStart }, $"Expected a stream header, got {ev?.Kind.ToString() ?? "end of connection"}.");
        return ev!.Value.Element!;
    }

    /// <summary>Expects &lt;stream:error&gt; with the given condition, then the end of the stream and of the connection.</summary>
    public async Task<XmlElement> ExpectStreamErrorAsync(string condition)
    {
        XmlElement? error = null;
        while (true)
        {
            var ev = await NextEventAsync();
            Assert.True(ev is not null, $"Connection closed without a <{condition}/> stream error.");
            if (ev.Value.Kind == XmlStreamEventKind.StreamStart) continue;
            if (ev.Value.Kind == XmlStreamEventKind.StreamEnd) break;
            var e = ev.Value.Element!;
            if (e.Is("error", Ns.Streams))
            {
                error = e;
                Assert.Equal(condition, e.FirstElement()?.Name);
                Assert.Equal(Ns.StreamErrors, e.FirstElement()?.Namespace);
            }
        }
        Assert.True(error is not null, $"The stream ended without a <{condition}/> stream error.");
        Assert.Null(await NextEventAsync()); // connection closed after the closing tag
        return error;
    }

    /// <summary>Opens the stream and returns the features.</summary>
    public async Task<XmlElement> OpenAsync(string to = "localhost")
    {
        await SendAsync(Header(to));
        await ExpectStreamHeaderAsync();
        return await ExpectAsync("features", Ns.Streams);
    }

    public async Task StartTlsAsync()
    {
        await SendAsync("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        await ExpectAsync("proceed", Ns.Tls);
        await UpgradeAsync();
    }

    /// <summary>Client side of the TLS handshake over the current stream (STARTTLS after proceed, or direct TLS).</summary>
    public async Task UpgradeAsync()
    {
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false, (_, _, _, _) => true);
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
        _stream = ssl;
        _parser.Reset();
        _pending = ReadOnlySequence<byte>.Empty;
    }

    /// <summary>Restarts the stream after SASL success.</summary>
    public Task<XmlElement> RestartAsync()
    {
        _parser.Reset();
        return OpenAsync();
    }

    /// <summary>Restarts the stream after SASL success, sending <paramref name="prefix"/> before the new header, in chunks of <paramref name="chunkSize"/> bytes (0: one write).</summary>
    public async Task<XmlElement> RestartAsync(string prefix, int chunkSize = 0)
    {
        _parser.Reset();
        await SendAsync(Encoding.UTF8.GetBytes(prefix + Header()), chunkSize);
        await ExpectStreamHeaderAsync();
        return await ExpectAsync("features", Ns.Streams);
    }

    /// <summary>Connects through TLS and SCRAM-SHA-256 (or another mechanism); returns the features after the restart.</summary>
    public async Task<XmlElement> AuthenticateAsync(string user, string password, string mechanism = "SCRAM-SHA-256")
    {
        if (DirectTls) await UpgradeAsync();
        var features = await OpenAsync();
        if (!DirectTls)
        {
            await StartTlsAsync();
            features = await OpenAsync();
        }
        Assert.NotNull(features.Element("mechanisms", Ns.Sasl));
        if (mechanism == "PLAIN")
        {
            await SendAsync($"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{Convert.ToBase64String(PlainMechanism.Create(user, password))}</auth>");
            await ExpectAsync("success", Ns.Sasl);
            return await RestartAsync();
        }
        var hash = mechanism == "SCRAM-SHA-1" ? ScramHash.Sha1 : ScramHash.Sha256;
        var scram = new ScramClient(hash, user, password);
        await SendAsync($"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{mechanism}'>{Convert.ToBase64String(scram.CreateClientFirst())}</auth>");
        var challenge = await ExpectAsync("challenge", Ns.Sasl);
        var final = scram.CreateClientFinal(Convert.FromBase64String(challenge.Text));
        await SendAsync($"<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{Convert.ToBase64String(final)}</response>");
        var success = await ExpectAsync("success", Ns.Sasl);
        Assert.True(scram.VerifyServerFinal(Convert.FromBase64String(success.Text)), "Server signature did not verify.");
        return await RestartAsync();
    }

    /// <summary>Full login: TLS, SASL, bind (and optionally initial presence). Returns the bound full JID.</summary>
    public async Task<string> LoginAsync(string user, string password, string? resource = null, bool presence = true)
    {
        var features = await AuthenticateAsync(user, password);
        Assert.NotNull(features.Element("bind", Ns.Bind));
        var resourceXml = resource is null ? "" : $"<resource>{resource}</resource>";
        await SendAsync($"<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>{resourceXml}</bind></iq>");
        var result = await ExpectAsync("iq");
        Assert.Equal("result", result.GetAttribute("type"));
        Jid = result.Element("bind", Ns.Bind)!.Element("jid", Ns.Bind)!.Text;
        if (presence)
        {
            await SendAsync("<presence/>");
            // Our own presence comes back (RFC 6121 §4.2.2).
            await WaitForAsync(e => e.Name == "presence" && e.GetAttribute("from") == Jid);
        }
        return Jid;
    }

    public async ValueTask DisposeAsync()
    {
        try { await _stream.DisposeAsync(); } catch (IOException) { } catch (ObjectDisposedException) { }
    }
}
