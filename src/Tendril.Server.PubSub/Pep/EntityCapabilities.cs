using Tendril.Server.Features;
using System.Collections.Concurrent;
using Tendril.Protocol;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Features.Pep;

/// <summary>
/// Entity capabilities (XEP-0115) of the connected clients, for PEP's +notify filtering (XEP-0163 §4.3): a session's
/// caps are the &lt;c/&gt; of its last available presence; the features behind a <c>ver</c> are learned by a disco#info
/// query to a client that announced it (node#ver). The answer is verified as in XEP-0115 §5.4: the <c>ver</c> is
/// recomputed from the answer with the announced hash function (§5.1); only an answer that matches is cached by
/// <c>ver</c> for everyone. An answer that does not match, is ill-formed or uses an unknown hash is trusted for the full
/// JID that gave it only (a client lying about its caps affects nothing but its own notifications).
/// </summary>
public sealed class EntityCapabilities(Func<XmppServer> server)
{
    public const string Namespace = "http://jabber.org/protocol/caps";

    /// <summary>What a presence's &lt;c/&gt; announces: node, ver and the hash function's name (null: legacy caps, no hash).</summary>
    public readonly record struct Caps(string Node, string Ver, string? Hash);

    private sealed record JidCaps(string Ver, IReadOnlySet<string> Features);

    private sealed record Answer(Jid From, IReadOnlySet<string> Features, bool Verified);

    private readonly ConcurrentDictionary<string, IReadOnlySet<string>> _byVer = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Jid, JidCaps> _byJid = new();
    private readonly ConcurrentDictionary<string, Task<Answer?>> _resolving = new(StringComparer.Ordinal);

    /// <summary>How long to wait for a client's disco#info answer.</summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The caps a session announced in its last available presence, or null.</summary>
    public static Caps? CapsOf(C2sSession session) => session.LastPresence is { } p ? CapsOf(p) : null;

    /// <summary>The caps a presence announces, or null.</summary>
    public static Caps? CapsOf(XmlElement presence) =>
        presence.Element("c", Namespace) is { } c && c.GetAttribute("ver") is { Length: > 0 } ver
            ? new Caps(c.GetAttribute("node") ?? "", ver, c.GetAttribute("hash"))
            : null;

    /// <summary>The verified features of a <c>ver</c> (the cache shared by every client), or null when not known.</summary>
    public IReadOnlySet<string>? FeaturesOf(string ver) => _byVer.GetValueOrDefault(ver);

    /// <summary>The features in force for <paramref name="client"/> announcing <paramref name="ver"/>: its own unverified answer, else the verified cache.</summary>
    public IReadOnlySet<string>? FeaturesFor(Jid client, string ver) =>
        _byJid.TryGetValue(client, out var own) && own.Ver == ver ? own.Features : _byVer.GetValueOrDefault(ver);

    /// <summary>The features in force for the session's current caps, or null when unknown.</summary>
    public IReadOnlySet<string>? FeaturesFor(C2sSession session) => CapsOf(session) is { } caps ? FeaturesFor(session.Jid, caps.Ver) : null;

    /// <summary>True when the session's caps are known and include <paramref name="feature"/>.</summary>
    public bool Has(C2sSession session, string feature) => FeaturesFor(session) is { } features && features.Contains(feature);

    /// <summary>Forgets what was learned for one full JID only (its session ended).</summary>
    public void Forget(Jid client) => _byJid.TryRemove(client, out _);

    /// <summary>Learns the session's caps features (a disco#info round trip unless known); null without caps or answer.</summary>
    public Task<IReadOnlySet<string>?> ResolveAsync(C2sSession session) =>
        CapsOf(session) is { } caps ? ResolveAsync(session.Jid, caps) : Task.FromResult<IReadOnlySet<string>?>(null);

    /// <summary>Learns the features behind <paramref name="caps"/> as announced by <paramref name="client"/>; null when it does not answer.</summary>
    public async Task<IReadOnlySet<string>?> ResolveAsync(Jid client, Caps caps)
    {
        if (FeaturesFor(client, caps.Ver) is { } known) return known;
        if (EntityCapsHash.IsSupported(caps.Hash))
        {
            // Clients announcing the same ver at once share one round trip; its answer serves them all only if verified.
            var task = _resolving.GetOrAdd(caps.Ver, _ => QueryAsync(client, caps));
            Answer? shared;
            try
            {
                shared = await task.ConfigureAwait(false);
            }
            finally
            {
                _resolving.TryRemove(new KeyValuePair<string, Task<Answer?>>(caps.Ver, task));
            }
            if (shared is { Verified: true } || (shared is not null && shared.From == client)) return shared.Features;
            if (FeaturesFor(client, caps.Ver) is { } learned) return learned;
        }
        // Unknown hash function (or another client's unverifiable answer): ask this client for itself (§5.4).
        return (await QueryAsync(client, caps).ConfigureAwait(false))?.Features;
    }

    private async Task<Answer?> QueryAsync(Jid client, Caps caps)
    {
        var iq = new XmlElement("iq", Ns.Client).SetAttribute("type", "get");
        iq.AddElement("query", Ns.DiscoInfo).SetAttribute("node", caps.Node + "#" + caps.Ver);
        var answer = await server().IqTracker.SendAsync(iq, client, QueryTimeout).ConfigureAwait(false);
        if (answer.GetAttribute("type") != "result" || answer.Element("query", Ns.DiscoInfo) is not { } query) return null;
        var features = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in query.Elements("feature", Ns.DiscoInfo))
        {
            if (f.GetAttribute("var") is { } v) features.Add(v);
        }
        // §5.4 step 3.6–3.8: cache by ver only when the answer hashes to it.
        var verified = caps.Hash is { } hash && EntityCapsHash.ComputeVer(query, hash) is { } computed && computed == caps.Ver;
        if (verified) _byVer[caps.Ver] = features;
        else _byJid[client] = new JidCaps(caps.Ver, features);
        return new Answer(client, features, verified);
    }
}
