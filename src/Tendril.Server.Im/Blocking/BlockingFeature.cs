using System.Collections.Concurrent;
using System.Globalization;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Features.Roster;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Blocking;

/// <summary>
/// Blocking Command (XEP-0191): blocklist get, block, unblock and unblock-all for the account's own resources, with
/// pushes to every resource that requested the blocklist (§3.3–§3.5); the list is stored per account (store
/// <c>blocklist</c>) and cached while the account is online. Enforcement through the router's stanza filters:
/// <list type="bullet">
/// <item>from a blocked entity to the user (§3.3): presence dropped without an answer, message answered with
/// service-unavailable, iq get/set answered with service-unavailable, other iq dropped;</item>
/// <item>from the user to a blocked entity: refused with not-acceptable and &lt;blocked xmlns='urn:xmpp:blocking:errors'/&gt;;
/// what the server sends on the user's behalf (presence broadcast) is dropped;</item>
/// <item>at block time a blocked contact allowed to see the user's presence gets unavailable presence, at unblock
/// time the user's current presence (§3.3, §3.4; local contacts).</item>
/// </list>
/// JIDs match as §4 says: full JID, bare JID, domain/resource, domain.
/// </summary>
public sealed class BlockingFeature : IServerFeature
{
    public const string Namespace = "urn:xmpp:blocking";
    public const string ErrorsNamespace = "urn:xmpp:blocking:errors";
    internal const string Store = "blocklist";

    private static readonly HashSet<string> s_empty = [];
    private XmppServer _server = null!;
    private RosterQueries _rosters = null!;
    // Blocklists of online accounts (bare JID -> snapshot, never mutated once published).
    private const string ClusterEvent = "blocklist-changed";
    private readonly ConcurrentDictionary<Jid, HashSet<string>> _cache = new(BareJidComparer.Instance);
    private readonly ConcurrentDictionary<C2sSession, byte> _interested = new();
    private readonly AccountLocks _locks = new(32);
    private long _nextPush;

    public void Register(FeatureRegistry registry)
    {
        _server = registry.Server;
        _rosters = new RosterQueries(_server.Storage);
        registry.AddDiscoFeature(Namespace);
        registry.HandleIq("blocklist", Namespace, BlocklistAsync, IqTarget.Account);
        registry.HandleIq("block", Namespace, BlockAsync, IqTarget.Account);
        registry.HandleIq("unblock", Namespace, UnblockAsync, IqTarget.Account);
        registry.AddOutboundFilter(StanzaKinds.All, StanzaStage.Access, FilterOutboundAsync);
        registry.AddInboundFilter(StanzaKinds.All, StanzaStage.Access, FilterInboundAsync);
        // Cluster: a node caches the blocklists of accounts with sessions on it, so a change made on one node is sent to
        // the other nodes holding the account's sessions, which drop their copy and push the change (§3.3/§3.4).
        _server.Cluster.OnAccountEvent(ClusterEvent, OnClusterChangeAsync);
        _server.Cluster.EventsMissed += _cache.Clear;
        registry.SessionClosed += session =>
        {
            _interested.TryRemove(session, out _);
            if (!_server.Delivery.IsBoundHere(session.Jid)) _cache.TryRemove(session.Jid.Bare, out _);
            return ValueTask.CompletedTask;
        };
    }

    // ---- enforcement ---------------------------------------------------------------------------------------------

    private async ValueTask<StanzaFilterResult> FilterOutboundAsync(C2sSession origin, XmlElement stanza, Jid? to)
    {
        if (to is null || BareJidComparer.Instance.Equals(to, origin.Jid)) return StanzaFilterResult.Continue;
        var list = await GetListAsync(origin.Jid.Bare).ConfigureAwait(false);
        if (!Matches(list, to)) return StanzaFilterResult.Continue;
        _server.Router.BounceError(stanza, new StanzaError(StanzaErrorCondition.NotAcceptable, StanzaErrorType.Cancel, null, new XmlElement("blocked", ErrorsNamespace)));
        return StanzaFilterResult.Drop;
    }

    private async ValueTask<StanzaFilterResult> FilterInboundAsync(XmlElement stanza, Jid from, Jid to)
    {
        if (to.Local is null || BareJidComparer.Instance.Equals(from, to)) return StanzaFilterResult.Continue;
        var list = await GetListAsync(to.Bare).ConfigureAwait(false);
        if (Matches(list, from))
        {
            // §3.3: the user appears offline to the blocked entity.
            var type = stanza.GetAttribute("type");
            var answer = stanza.Name switch
            {
                "message" => type != "error",
                "iq" => type is "get" or "set",
                _ => false,
            };
            if (answer) _server.Router.BounceError(stanza, StanzaErrorCondition.ServiceUnavailable);
            return StanzaFilterResult.Drop;
        }
        // Stanzas the server sends on behalf of a local user (presence broadcast, probe answers) to someone the user blocked.
        // Not read for an unavailable presence on behalf of an account with no session (the answer to a probe of an
        // offline contact): it tells the recipient only what a block must make it believe anyway (§3.3: the user
        // appears offline), and reading it would cost a login one blocklist query per offline contact.
        if (from.Local is not null && from.Domain == _server.Domain
            && !(stanza.Name == "presence" && stanza.GetAttribute("type") == "unavailable" && !_server.Delivery.IsBoundHere(from.Bare))
            && Matches(await GetListAsync(from.Bare).ConfigureAwait(false), to))
        {
            return StanzaFilterResult.Drop;
        }
        return StanzaFilterResult.Continue;
    }

    /// <summary>§4 JID matching: the full JID, the bare JID, domain/resource, the domain.</summary>
    internal static bool Matches(HashSet<string> list, Jid jid)
    {
        if (list.Count == 0) return false;
        if (list.Contains(jid.ToString()) || list.Contains(jid.Domain)) return true;
        if (jid.Resource is not null)
        {
            if (jid.Local is not null && list.Contains(jid.Bare.ToString())) return true;
            if (list.Contains(jid.Domain + "/" + jid.Resource)) return true;
        }
        return false;
    }

    private async ValueTask<HashSet<string>> GetListAsync(Jid user)
    {
        if (_cache.TryGetValue(user, out var cached)) return cached;
        if (user.Local is null || user.Domain != _server.Domain) return s_empty;
        var rows = await _server.Storage.AccountData.ListAsync(user.Domain, user.Local, Store).ConfigureAwait(false);
        _server.StorageOutage.Succeeded(); // storage answers: an outage the filters saw is over
        var list = rows.Count == 0 ? s_empty : new HashSet<string>(rows.Select(r => r.Key), StringComparer.Ordinal);
        // Cached only while the account is online; a concurrent change already cached wins (TryAdd).
        if (_server.Delivery.IsBoundHere(user)) return _cache.GetOrAdd(user, list);
        return list;
    }

    // ---- the iq ------------------------------------------------------------------------------------------------

    private bool TryAcceptOwn(IqRequest request, bool set)
    {
        if (request.To != request.From.Bare || request.Origin is null) request.ReplyError(StanzaErrorCondition.Forbidden);
        else if (request.IsSet != set) request.ReplyError(StanzaErrorCondition.BadRequest);
        else return true;
        return false;
    }

    private async ValueTask BlocklistAsync(IqRequest request)
    {
        if (!TryAcceptOwn(request, set: false)) return;
        _interested[request.Origin!] = 0;
        var list = await GetListAsync(request.To).ConfigureAwait(false);
        var result = new XmlElement("blocklist", Namespace);
        foreach (var jid in list.Order(StringComparer.Ordinal)) result.AddElement("item").SetAttribute("jid", jid);
        request.Reply(result);
    }

    /// <summary>The 'jid' of each item, normalized; null (after answering) when one is missing or malformed.</summary>
    private static List<Jid>? ParseItems(IqRequest request)
    {
        var jids = new List<Jid>();
        foreach (var item in request.Payload.Elements("item", Namespace))
        {
            var text = item.GetAttribute("jid");
            if (text is null)
            {
                request.ReplyError(StanzaErrorCondition.BadRequest, "An item has no 'jid'.");
                return null;
            }
            if (!Jid.TryParse(text, out var jid))
            {
                request.ReplyError(StanzaErrorCondition.JidMalformed);
                return null;
            }
            jids.Add(jid);
        }
        return jids;
    }

    private async ValueTask BlockAsync(IqRequest request)
    {
        if (!TryAcceptOwn(request, set: true)) return;
        var jids = ParseItems(request);
        if (jids is null) return;
        if (jids.Count == 0)
        {
            request.ReplyError(StanzaErrorCondition.BadRequest, "Name at least one JID to block."); // §3.3
            return;
        }
        var user = request.To;
        var gate = await _locks.AcquireAsync(user).ConfigureAwait(false);
        List<Jid> added;
        try
        {
            var before = await GetListAsync(user).ConfigureAwait(false);
            added = jids.Where(j => !before.Contains(j.ToString())).DistinctBy(j => j.ToString()).ToList();
            if (!await _server.Storage.AccountData.SetAsync(user.Domain, user.Local!, Store, jids.Select(j => new KeyValuePair<string, string>(j.ToString(), "")).ToList()).ConfigureAwait(false))
            {
                request.ReplyError(StanzaErrorCondition.ServiceUnavailable);
                return;
            }
            var after = new HashSet<string>(before, StringComparer.Ordinal);
            foreach (var j in jids) after.Add(j.ToString());
            _cache[user] = after;
        }
        finally
        {
            gate.Dispose();
        }
        request.Reply();
        Push(user, "block", jids);
        AnnounceToCluster(user, "block", jids);
        foreach (var contact in added) await SendPresenceAsync(user, contact, available: false).ConfigureAwait(false);
    }

    private async ValueTask UnblockAsync(IqRequest request)
    {
        if (!TryAcceptOwn(request, set: true)) return;
        var jids = ParseItems(request);
        if (jids is null) return;
        var user = request.To;
        var gate = await _locks.AcquireAsync(user).ConfigureAwait(false);
        List<Jid> removed;
        try
        {
            var before = await GetListAsync(user).ConfigureAwait(false);
            if (jids.Count == 0)
            {
                // §3.5: unblock everyone.
                removed = before.Select(j => Jid.TryParse(j, out var jid) ? jid : null).OfType<Jid>().ToList();
                await _server.Storage.AccountData.ClearAsync(user.Domain, user.Local!, Store).ConfigureAwait(false);
                _cache[user] = s_empty;
            }
            else
            {
                removed = jids.Where(j => before.Contains(j.ToString())).DistinctBy(j => j.ToString()).ToList();
                await _server.Storage.AccountData.DeleteAsync(user.Domain, user.Local!, Store, jids.Select(j => j.ToString()).ToList()).ConfigureAwait(false);
                var after = new HashSet<string>(before, StringComparer.Ordinal);
                foreach (var j in jids) after.Remove(j.ToString());
                _cache[user] = after.Count == 0 ? s_empty : after;
            }
        }
        finally
        {
            gate.Dispose();
        }
        request.Reply();
        Push(user, "unblock", jids);
        AnnounceToCluster(user, "unblock", jids);
        foreach (var contact in removed) await SendPresenceAsync(user, contact, available: true).ConfigureAwait(false);
    }

    private void AnnounceToCluster(Jid user, string name, List<Jid> jids)
    {
        if (!_server.Cluster.IsClustered) return;
        var change = new XmlElement(name, Namespace);
        foreach (var jid in jids) change.AddElement("item").SetAttribute("jid", jid.ToString());
        _server.Cluster.SendAccountEvent(user, ClusterEvent, change);
    }

    /// <summary>Another node changed <paramref name="account"/>'s blocklist: forget the cached copy, push the change here.</summary>
    private ValueTask OnClusterChangeAsync(Jid account, XmlElement change)
    {
        if (change.Name is not ("block" or "unblock") || change.Namespace != Namespace) return ValueTask.CompletedTask;
        _cache.TryRemove(account.Bare, out _);
        var jids = new List<Jid>();
        foreach (var item in change.Elements("item"))
        {
            if (item.GetAttribute("jid") is { } value && Jid.TryParse(value, out var jid)) jids.Add(jid);
        }
        Push(account.Bare, change.Name, jids);
        return ValueTask.CompletedTask;
    }

    /// <summary>§3.3/§3.4: a block or unblock push to every resource that requested the blocklist.</summary>
    private void Push(Jid user, string name, List<Jid> jids)
    {
        foreach (var session in _server.Delivery.Here(user))
        {
            if (!_interested.ContainsKey(session)) continue;
            var id = "block-" + Interlocked.Increment(ref _nextPush).ToString(CultureInfo.InvariantCulture);
            var iq = new XmlElement("iq", Ns.Client).SetAttribute("type", "set").SetAttribute("id", id).SetAttribute("to", session.JidString);
            var payload = iq.AddElement(name, Namespace);
            foreach (var jid in jids) payload.AddElement("item").SetAttribute("jid", jid.ToString());
            _server.Delivery.TryDeliver(session, iq);
        }
    }

    /// <summary>
    /// Unavailable presence (block) or the user's current presence (unblock) to a local contact allowed to see the
    /// user's presence, delivered directly: the blocking filters must not stop it.
    /// </summary>
    private async ValueTask SendPresenceAsync(Jid user, Jid contact, bool available)
    {
        if (contact.Local is null || contact.Domain != _server.Domain) return;
        if (!await _rosters.HasPresenceSubscriptionAsync(user, contact).ConfigureAwait(false)) return;
        var recipients = new List<IBoundResource>();
        foreach (var s in _server.Delivery.Of(contact))
        {
            if (s.IsAvailable && (contact.Resource is null || s.Jid.Resource == contact.Resource)) recipients.Add(s);
        }
        if (recipients.Count == 0) return;
        foreach (var own in _server.Delivery.Of(user))
        {
            if (!own.IsAvailable) continue;
            var presence = available
                ? own.LastPresence
                : new XmlElement("presence", Ns.Client).SetAttribute("type", "unavailable").SetAttribute("from", own.JidString);
            if (presence is null) continue;
            var serialized = new SerializedStanza(presence);
            foreach (var r in recipients) _server.Delivery.TryDeliver(r, serialized);
        }
    }


}
