using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Protocol.Sasl;
using Tendril.Xml;

namespace Tendril.Client;

/// <summary>Stream negotiation (RFC 6120 §4–§7): header, STARTTLS, SASL, bind, legacy session.</summary>
public sealed partial class XmppClient
{
    private static readonly List<SslApplicationProtocol> XmppClientAlpn = [new("xmpp-client")];
    private static readonly string[] MechanismPreference = ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"];

    private bool _secure;

    private async Task NegotiateAsync(CancellationToken ct)
    {
        var domain = _options.Jid.Domain;
        var socket = _options.LocalAddress is { } local
            ? new Socket(local.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }
            : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _socket = socket;
        if (_options.LocalAddress is { } address) socket.Bind(new System.Net.IPEndPoint(address, 0));
        await socket.ConnectAsync(_options.Host ?? domain, _options.Port ?? (_options.DirectTls ? 5223 : 5222), ct).ConfigureAwait(false);
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        _stream = stream;
        if (_options.DirectTls) stream = await StartTlsAsync(stream, ct).ConfigureAwait(false);
        SetTransport(stream);

        var features = await OpenStreamAsync(ct).ConfigureAwait(false);
        if (!_secure)
        {
            if (features.Element("starttls", Ns.Tls) is null)
                throw new XmppException("The server does not offer STARTTLS; this client never runs without TLS.");
            await WriteElementAsync(new XmlElement("starttls", Ns.Tls), ct).ConfigureAwait(false);
            var answer = await ReadElementAsync(ct).ConfigureAwait(false);
            if (!answer.Is("proceed", Ns.Tls)) throw new XmppException($"STARTTLS was refused (<{answer.Name}/>).");
            // The plain pipes are dropped (anything after <proceed/> would be plaintext injection, RFC 6120 §5.4.3.3).
            await _reader.CompleteAsync().ConfigureAwait(false);
            await _writer.CompleteAsync().ConfigureAwait(false);
            stream = await StartTlsAsync(stream, ct).ConfigureAwait(false);
            SetTransport(stream);
            _parser.Reset();
            features = await OpenStreamAsync(ct).ConfigureAwait(false);
        }

        await AuthenticateAsync(features, ct).ConfigureAwait(false);
        _parser.Reset();
        features = await OpenStreamAsync(ct).ConfigureAwait(false);
        StreamFeatures = features;
        await BindAsync(features, ct).ConfigureAwait(false);
    }

    private async Task<Stream> StartTlsAsync(Stream inner, CancellationToken ct)
    {
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        _stream = ssl;
        RemoteCertificateValidationCallback? validation = _options.AcceptAnyCertificate
            ? static (_, _, _, _) => true
            : _options.CertificateValidation;
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = _options.Jid.Domain,
            RemoteCertificateValidationCallback = validation,
            ApplicationProtocols = _options.DirectTls ? XmppClientAlpn : null,
        }, ct).ConfigureAwait(false);
        _secure = true;
        return ssl;
    }

    /// <summary>Sends our stream header and reads the server's header and features.</summary>
    private async Task<XmlElement> OpenStreamAsync(CancellationToken ct)
    {
        WriteHeader(_writer);
        await _writer.FlushAsync(ct).ConfigureAwait(false);
        var ev = await ReadEventAsync(ct).ConfigureAwait(false);
        if (ev.Kind != XmlStreamEventKind.StreamStart)
        {
            if (ev.Kind == XmlStreamEventKind.Stanza) ThrowIfStreamError(ev.Element!);
            throw new XmppException("The server did not answer with a stream header.");
        }
        var header = ev.Element!;
        if (header.Namespace != Ns.Streams || header.Name != "stream")
            throw new XmppException($"Unexpected stream root <{header.Name} xmlns='{header.Namespace}'>.");
        var features = await ReadElementAsync(ct).ConfigureAwait(false);
        if (!features.Is("features", Ns.Streams))
            throw new XmppException($"Expected <stream:features/>, got <{features.Name}/>.");
        return features;
    }

    private void WriteHeader(IBufferWriter<byte> output)
    {
        output.Write("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='"u8);
        XmlWriter.WriteEscapedAttributeValue(output, _options.Jid.Domain);
        if (_secure)
        {
            // RFC 6120 §4.7.1: 'from' only once the stream is protected.
            output.Write("' from='"u8);
            XmlWriter.WriteEscapedAttributeValue(output, _options.Jid.Bare.ToString());
        }
        output.Write("' version='1.0' xml:lang='"u8);
        XmlWriter.WriteEscapedAttributeValue(output, _options.Language);
        output.Write("'>"u8);
    }

    private async Task AuthenticateAsync(XmlElement features, CancellationToken ct)
    {
        var mechanisms = features.Element("mechanisms", Ns.Sasl) ?? throw new XmppException("The server offers no SASL mechanisms.");
        var offered = new List<string>();
        foreach (var m in mechanisms.Elements("mechanism")) offered.Add(m.Text.Trim());
        string? mechanism = null;
        if (_options.Mechanism is { } forced)
        {
            if (offered.Contains(forced, StringComparer.OrdinalIgnoreCase)) mechanism = forced.ToUpperInvariant();
        }
        else
        {
            mechanism = Array.Find(MechanismPreference, offered.Contains);
        }
        if (mechanism is null)
        {
            throw new XmppAuthenticationException(SaslFailure.InvalidMechanism,
                "The server offers " + string.Join(", ", offered) + "; usable: " + (_options.Mechanism ?? string.Join(", ", MechanismPreference)), _options.Mechanism ?? "SASL");
        }

        var username = _options.Jid.Local!;
        if (mechanism == "PLAIN")
        {
            await SendAuthAsync(mechanism, PlainMechanism.Create(username, _options.Password), ct).ConfigureAwait(false);
            var answer = await ReadSaslAsync(mechanism, ct).ConfigureAwait(false);
            if (answer.Name != "success") throw new XmppException($"Unexpected <{answer.Name}/> during PLAIN authentication.");
            return;
        }

        var scram = new ScramClient(mechanism == "SCRAM-SHA-1" ? ScramHash.Sha1 : ScramHash.Sha256, username, _options.Password);
        await SendAuthAsync(mechanism, scram.CreateClientFirst(), ct).ConfigureAwait(false);
        var challenge = await ReadSaslAsync(mechanism, ct).ConfigureAwait(false);
        if (challenge.Name != "challenge") throw new XmppException($"Expected a SCRAM challenge, got <{challenge.Name}/>.");
        byte[] clientFinal;
        try
        {
            clientFinal = scram.CreateClientFinal(DecodeBase64(challenge.Text), _options.MinimumScramIterations);
        }
        catch (FormatException ex)
        {
            await WriteElementAsync(new XmlElement("abort", Ns.Sasl), ct).ConfigureAwait(false);
            throw new XmppException("The server's SCRAM challenge is unacceptable: " + ex.Message, ex);
        }
        var response = new XmlElement("response", Ns.Sasl).Add(Convert.ToBase64String(clientFinal));
        await WriteElementAsync(response, ct).ConfigureAwait(false);
        var outcome = await ReadSaslAsync(mechanism, ct).ConfigureAwait(false);
        if (outcome.Name == "challenge")
        {
            // Servers that send server-final as a challenge (RFC 6120 §6.4.6 allows it); answer with an empty response.
            if (!scram.VerifyServerFinal(DecodeBase64(outcome.Text))) throw new XmppAuthenticationException(SaslFailure.None, null, mechanism);
            await WriteElementAsync(new XmlElement("response", Ns.Sasl), ct).ConfigureAwait(false);
            outcome = await ReadSaslAsync(mechanism, ct).ConfigureAwait(false);
            if (outcome.Name != "success") throw new XmppException($"Unexpected <{outcome.Name}/> after SCRAM server-final.");
            return;
        }
        if (outcome.Name != "success") throw new XmppException($"Unexpected <{outcome.Name}/> during SCRAM authentication.");
        // The server proves it knows the credential too (RFC 5802 §3, mutual authentication).
        if (!scram.VerifyServerFinal(DecodeBase64(outcome.Text))) throw new XmppAuthenticationException(SaslFailure.None, null, mechanism);
    }

    private ValueTask SendAuthAsync(string mechanism, byte[] initial, CancellationToken ct)
    {
        var auth = new XmlElement("auth", Ns.Sasl).SetAttribute("mechanism", mechanism).Add(Convert.ToBase64String(initial));
        return WriteElementAsync(auth, ct);
    }

    /// <summary>Reads the next SASL element; a &lt;failure/&gt; becomes <see cref="XmppAuthenticationException"/>.</summary>
    private async Task<XmlElement> ReadSaslAsync(string mechanism, CancellationToken ct)
    {
        var element = await ReadElementAsync(ct).ConfigureAwait(false);
        if (element.Namespace != Ns.Sasl) throw new XmppException($"Unexpected <{element.Name} xmlns='{element.Namespace}'/> during SASL.");
        if (element.Name == "failure")
        {
            var condition = SaslFailure.NotAuthorized;
            string? text = null;
            foreach (var child in element.Elements())
            {
                if (child.Name == "text") text = child.Text;
                else condition = ParseSaslCondition(child.Name);
            }
            throw new XmppAuthenticationException(condition, text, mechanism);
        }
        return element;
    }

    private static SaslFailure ParseSaslCondition(string name)
    {
        for (var c = SaslFailure.Aborted; c <= SaslFailure.TemporaryAuthFailure; c++)
        {
            if (c.ToElementName() == name) return c;
        }
        return SaslFailure.NotAuthorized;
    }

    private static byte[] DecodeBase64(string text)
    {
        var trimmed = text.AsSpan().Trim();
        if (trimmed.IsEmpty || trimmed is "=") return [];
        var buffer = new byte[(trimmed.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64Chars(trimmed, buffer, out var written)) throw new XmppException("The server sent invalid base64 in SASL.");
        return buffer.AsSpan(0, written).ToArray();
    }

    private async Task BindAsync(XmlElement features, CancellationToken ct)
    {
        if (features.Element("bind", Ns.Bind) is null) throw new XmppException("The server does not offer resource binding.");
        var iq = new XmlElement("iq", Ns.Client).SetAttribute("type", "set").SetAttribute("id", NextId());
        var bind = iq.AddElement("bind", Ns.Bind);
        var resource = _options.Resource ?? _options.Jid.Resource;
        if (!string.IsNullOrEmpty(resource)) bind.AddElement("resource").Add(resource);
        var result = await NegotiationIqAsync(iq, ct).ConfigureAwait(false);
        var jidText = result.Element("bind", Ns.Bind)?.Element("jid", Ns.Bind)?.Text.Trim();
        if (jidText is null || !Jid.TryParse(jidText, out var jid) || !jid.IsFull)
            throw new XmppException($"The bind result carries no valid full JID ('{jidText}').");
        Jid = jid;

        // RFC 3921 session establishment, only when the server still requires it (no <optional/>, RFC 6121 Appendix E).
        var session = features.Element("session", Ns.Session);
        if (session is not null && session.Element("optional", Ns.Session) is null)
        {
            var sessionIq = new XmlElement("iq", Ns.Client).SetAttribute("type", "set").SetAttribute("id", NextId());
            sessionIq.AddElement("session", Ns.Session);
            await NegotiationIqAsync(sessionIq, ct).ConfigureAwait(false);
        }
    }

    /// <summary>An iq during negotiation, before the read loop runs: unrelated elements are skipped.</summary>
    private async Task<XmlElement> NegotiationIqAsync(XmlElement iq, CancellationToken ct)
    {
        var id = iq.GetAttribute("id")!;
        await WriteElementAsync(iq, ct).ConfigureAwait(false);
        while (true)
        {
            var answer = await ReadElementAsync(ct).ConfigureAwait(false);
            if (answer.Name != "iq" || answer.GetAttribute("id") != id) continue;
            if (answer.GetAttribute("type") == "result") return answer;
            throw new XmppStanzaException(StanzaError.Parse(answer) ?? StanzaError.Of(StanzaErrorCondition.UndefinedCondition), answer);
        }
    }

    // ---- synchronous-style reading during negotiation ------------------------------------------------------------

    private async ValueTask<XmlStreamEvent> ReadEventAsync(CancellationToken ct)
    {
        while (true)
        {
            var result = await _reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            bool got;
            XmlStreamEvent ev;
            try
            {
                got = _parser.TryRead(ref buffer, out ev);
            }
            catch (XmlParseException)
            {
                _reader.AdvanceTo(result.Buffer.End);
                throw;
            }
            if (got)
            {
                // Leave what follows the event for the next call (examined = consumed, so it is returned at once).
                _reader.AdvanceTo(buffer.Start);
                return ev;
            }
            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted) throw new IOException("The server closed the connection during negotiation.");
        }
    }

    private async ValueTask<XmlElement> ReadElementAsync(CancellationToken ct)
    {
        var ev = await ReadEventAsync(ct).ConfigureAwait(false);
        switch (ev.Kind)
        {
            case XmlStreamEventKind.Stanza:
                ThrowIfStreamError(ev.Element!);
                return ev.Element!;
            case XmlStreamEventKind.StreamEnd:
                throw new IOException("The server closed the stream during negotiation.");
            default:
                throw new XmppException("Unexpected stream header.");
        }
    }

    private static void ThrowIfStreamError(XmlElement element)
    {
        if (element.Is("error", Ns.Streams)) throw ParseStreamError(element);
    }

    internal static XmppStreamException ParseStreamError(XmlElement error)
    {
        var condition = StreamErrorCondition.UndefinedCondition;
        string? text = null;
        foreach (var child in error.Elements())
        {
            if (child.Namespace != Ns.StreamErrors) continue;
            if (child.Name == "text")
            {
                text = child.Text;
                continue;
            }
            for (var c = StreamErrorCondition.BadFormat; c <= StreamErrorCondition.UnsupportedVersion; c++)
            {
                if (StreamError.ToElementName(c) == child.Name)
                {
                    condition = c;
                    break;
                }
            }
        }
        return new XmppStreamException(condition, text);
    }

}
