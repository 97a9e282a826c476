using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Protocol.Sasl;
using Tendril.Xml;

namespace Tendril.Server.Streams.States;

/// <summary>
/// Waiting for the client's stream header (at the start and after every restart). Checks it (RFC 6120 §4.7–§4.9),
/// answers with our header and the features of the next step, and moves to that step's state.
/// </summary>
internal sealed class StartState : C2sState
{
    public static StartState Instance { get; } = new();

    public override string Name => "Start";

    public override ValueTask OnStreamStartAsync(C2sStream stream, XmlElement header, string defaultNamespace)
    {
        var lang = header.GetAttribute("lang", XmlNamespaces.Xml);
        if (!string.IsNullOrEmpty(lang) && lang.Length <= 35) stream.Language = lang;
        stream.NewStreamId();

        // §4.8.1: the stream namespace; §4.8.2: the content namespace must be jabber:client on a c2s stream.
        if (header.Namespace != Ns.Streams || defaultNamespace != Ns.Client)
        {
            return stream.CloseAsync(new StreamError(StreamErrorCondition.InvalidNamespace, "Expected a jabber:client stream in the http://etherx.jabber.org/streams namespace."), "invalid namespace");
        }
        if (header.Name != "stream")
        {
            return stream.CloseAsync(new StreamError(StreamErrorCondition.BadFormat, "The root element must be <stream:stream>."), "bad root element");
        }
        // §4.7.5: absent version means pre-1.0 (unsupported); the major version must be 1.
        if (!IsSupportedVersion(header.GetAttribute("version")))
        {
            return stream.CloseAsync(new StreamError(StreamErrorCondition.UnsupportedVersion, "Only XMPP 1.0 streams are supported."), "unsupported version");
        }
        // §4.7.2 / §4.9.3.6: 'to' must name a domain this server hosts (and may not change across restarts).
        var to = header.GetAttribute("to");
        if (to is null || !Jid.TryParse(to, out var toJid) || toJid is null || !toJid.IsDomain || toJid.Domain != stream.Server.Domain)
        {
            return stream.CloseAsync(new StreamError(StreamErrorCondition.HostUnknown, $"This server does not serve '{to}'."), "host unknown");
        }
        // §4.7.1: echo the client's JID as 'to' when it gave a valid one that fits its authentication.
        string? replyTo = null;
        var from = header.GetAttribute("from");
        if (from is not null && Jid.TryParse(from, out var fromJid) && fromJid is not null && (stream.User is null || fromJid.Bare == stream.User))
        {
            replyTo = fromJid.ToString();
        }
        stream.SendHeader(replyTo);

        var features = new XmlElement("features", Ns.Streams);
        var options = stream.Server.Options;
        if (stream.User is null)
        {
            if (!stream.IsSecure && stream.CanStartTls)
            {
                var starttls = new XmlElement("starttls", Ns.Tls);
                if (options.C2s.RequireTls) starttls.Add(new XmlElement("required", Ns.Tls));
                features.Add(starttls);
            }
            if (stream.IsSecure || !options.C2s.RequireTls)
            {
                features.Add(Mechanisms(stream));
                foreach (var feature in stream.Server.Features.AuthenticationFeatures)
                {
                    if (feature(stream) is { } element) features.Add(element);
                }
                stream.State = new AuthState();
            }
            else
            {
                stream.State = TlsState.Instance;
            }
        }
        else
        {
            features.Add(new XmlElement("bind", Ns.Bind));
            foreach (var feature in stream.Server.Features.StreamFeatures)
            {
                if (feature(stream) is { } element) features.Add(element);
            }
            stream.State = BindState.Instance;
        }
        stream.SendStreamElement(features);
        return ValueTask.CompletedTask;
    }

    public override ValueTask OnElementAsync(C2sStream stream, XmlElement element) =>
        stream.CloseAsync(new StreamError(StreamErrorCondition.NotWellFormed), "element before stream header");

    private static XmlElement Mechanisms(C2sStream stream)
    {
        var mechanisms = new XmlElement("mechanisms", Ns.Sasl);
        mechanisms.AddElement("mechanism").Add("SCRAM-SHA-256");
        mechanisms.AddElement("mechanism").Add("SCRAM-SHA-1");
        // PLAIN only where TLS protects the password (RFC 6120 §6.4.1 / §13.8).
        if (stream.IsSecure && stream.Server.Options.Sasl.AllowPlain) mechanisms.AddElement("mechanism").Add("PLAIN");
        return mechanisms;
    }

    internal static bool IsSupportedVersion(string? version)
    {
        if (version is null) return false;
        var dot = version.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == version.Length - 1) return false;
        return int.TryParse(version.AsSpan(0, dot), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var major)
            && int.TryParse(version.AsSpan(dot + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)
            && major == 1;
    }

    internal static ScramHash? ParseScram(string mechanism) => mechanism switch
    {
        "SCRAM-SHA-1" => ScramHash.Sha1,
        "SCRAM-SHA-256" => ScramHash.Sha256,
        _ => null,
    };
}
