using System.Collections.Concurrent;
using Tendril.Protocol;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Features.Pep;

/// <summary>
/// Entity capabilities (XEP-0115) of the connected clients, for PEP's +notify filtering (XEP-0163 §4.3): a session's
/// caps are the &lt;c/&gt; of its last available presence; the feature list of a <c>ver</c> is learned once by a disco#info
/// query to a client that announced it (node#ver) and cached by <c>ver</c>. The <c>ver</c> hash is not verified
/// against the answer (a lying client only affects its own notifications).
/// </summary>
public sealed class EntityCapabilities(Func<XmppServer> server)
{
    public const string Namespace = "http://jabber.org/protocol/caps";

    private readonly ConcurrentDictionary<string, IReadOnlySet<string>> _byVer = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task<IReadOnlySet<string>?>> _resolving = new(StringComparer.Ordinal);

    /// <summary>How long to wait for a client's disco#info answer.</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The &lt;c/&gt; a session announced in its presence: (node, ver), or null.</summary>
    public static (string Node, string Ver)? CapsOf(C2sSession session) =>
        session.LastPresence?.Element("c", Namespace) is { } c && c.GetAttribute("ver") is { Length: > 0 } ver
            ? (c.GetAttribute("node") ?? "", ver)
            : null;

    /// <summary>The features of a known <c>ver</c>, or null when not (yet) known.</summary>
    public IReadOnlySet<string>? FeaturesOf(string ver) => _byVer.GetValueOrDefault(ver);

    /// <summary>Remembers the features of a <c>ver</c> (what a disco#info answer said).</summary>
    public void Learn(string ver, IEnumerable<string> features) => _byVer[ver] = new HashSet<string>(features, StringComparer.Ordinal);

    /// <summary>True when the session's caps are known and include <paramref name="feature"/>.</summary>
    public bool Has(C2sSession session, string feature) =>
        CapsOf(session) is { } caps && FeaturesOf(caps.Ver) is { } features && features.Contains(feature);

    /// <summary>Learns the session's caps features (a disco#info round trip unless the ver is cached); null without caps or answer.</summary>
    public async Task<IReadOnlySet<string>?> ResolveAsync(C2sSession session)
    {
        if (CapsOf(session) is not { } caps) return null;
        if (FeaturesOf(caps.Ver) is { } known) return known;
        var task = _resolving.GetOrAdd(caps.Ver, _ => QueryAsync(session.Jid, caps.Node, caps.Ver));
        try
        {
            return await task.ConfigureAwait(false);
        }
        finally
        {
            _resolving.TryRemove(new KeyValuePair<string, Task<IReadOnlySet<string>?>>(caps.Ver, task));
        }
    }

    private async Task<IReadOnlySet<string>?> QueryAsync(Jid client, string node, string ver)
    {
        var iq = new XmlElement("iq", Ns.Client).SetAttribute("type", "get");
        iq.AddElement("query", Ns.DiscoInfo).SetAttribute("node", node + "#" + ver);
        var answer = await server().IqTracker.SendAsync(iq, client, QueryTimeout).ConfigureAwait(false);
        if (answer.GetAttribute("type") != "result" || answer.Element("query", Ns.DiscoInfo) is not { } query) return null;
        var features = new List<string>();
        foreach (var f in query.Elements("feature", Ns.DiscoInfo))
        {
            if (f.GetAttribute("var") is { } v) features.Add(v);
        }
        Learn(ver, features);
        return FeaturesOf(ver);
    }
}
