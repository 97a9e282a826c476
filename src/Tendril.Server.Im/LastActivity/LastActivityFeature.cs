using System.Collections.Concurrent;
using System.Globalization;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Features.Roster;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.LastActivity;

/// <summary>
/// Last Activity (XEP-0012). To the server: its uptime (§5). To an account (§4, "offline user query"): only for a
/// requester subscribed to the account's presence (or the account itself), else forbidden; 0 seconds while the account
/// has an available resource; otherwise the seconds since it last went unavailable (an unavailable presence, or a
/// logout) with the status of its last unavailable presence, kept in storage (store <c>last</c>). An account that never logged out has no last activity:
/// service-unavailable, as for an account that does not exist. Full-JID queries (idle time) are the client's.
/// </summary>
public sealed class LastActivityFeature : IServerFeature
{
    public const string Namespace = "jabber:iq:last";
    internal const string Store = "last";

    private XmppServer _server = null!;
    private RosterQueries _rosters = null!;
    private DateTimeOffset _startedAt;
    // Sessions whose unavailable broadcast was recorded (and that have not been available since): their close does not
    // move the time or drop the status.
    private readonly ConcurrentDictionary<C2sSession, bool> _recorded = new();

    public void Register(FeatureRegistry registry)
    {
        _server = registry.Server;
        _rosters = new RosterQueries(_server.Storage);
        _startedAt = _server.Time.GetUtcNow();
        registry.AddDiscoFeature(Namespace);
        registry.HandleIq("query", Namespace, HandleAsync, IqTarget.Server | IqTarget.Account);
        registry.AddOutboundFilter(StanzaKinds.Presence, StanzaStage.Observe, RememberStatus);
        registry.SessionClosed += RecordLogoutAsync;
    }

    private async ValueTask<StanzaFilterResult> RememberStatus(C2sSession origin, XmlElement stanza, Jid? to)
    {
        if (to is null && stanza.Name == "presence")
        {
            switch (stanza.GetAttribute("type"))
            {
                case "unavailable":
                    // XEP-0012 §4: the last activity is when the account went unavailable, with that status — recorded
                    // now, on a stream that may stay open, not only when the session closes.
                    _recorded[origin] = true;
                    await RecordAsync(origin, stanza.Element("status")?.Text ?? "").ConfigureAwait(false);
                    break;
                case null:
                    _recorded.TryRemove(origin, out _);
                    break;
            }
        }
        return StanzaFilterResult.Continue;
    }

    private async ValueTask RecordLogoutAsync(C2sSession session)
    {
        // Went unavailable earlier and stayed so: that moment is its last activity, already recorded.
        if (_recorded.TryRemove(session, out _)) return;
        await RecordAsync(session, "").ConfigureAwait(false);
    }

    private async ValueTask RecordAsync(C2sSession session, string status)
    {
        var user = session.Jid.Bare;
        var now = _server.Time.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        try
        {
            await _server.Storage.AccountData.PutAsync(user.Domain, user.Local!, Store, "", now + "\n" + status).ConfigureAwait(false);
        }
        catch (StorageException)
        {
            // The time is lost; the presence and other session-closed handlers must still go on.
        }
    }

    private async ValueTask HandleAsync(IqRequest request)
    {
        if (!request.IsGet)
        {
            request.ReplyError(StanzaErrorCondition.BadRequest);
            return;
        }
        var now = _server.Time.GetUtcNow();
        if (request.To.IsDomain)
        {
            request.Reply(Query(now - _startedAt, null));
            return;
        }
        var user = request.To;
        if (await _server.Storage.Accounts.FindAsync(user.Domain, user.Local!).ConfigureAwait(false) is null)
        {
            request.ReplyError(StanzaErrorCondition.ServiceUnavailable);
            return;
        }
        // §4: only an entity allowed to see the user's presence learns when the user was last online.
        if (!await _rosters.HasPresenceSubscriptionAsync(user, request.From).ConfigureAwait(false))
        {
            request.ReplyError(StanzaErrorCondition.Forbidden);
            return;
        }
        foreach (var s in _server.Delivery.Of(user))
        {
            if (s.IsAvailable)
            {
                request.Reply(Query(TimeSpan.Zero, null)); // online now, on whichever node
                return;
            }
        }
        var stored = await _server.Storage.AccountData.GetAsync(user.Domain, user.Local!, Store, "").ConfigureAwait(false);
        if (stored is null || !TryParse(stored, out var at, out var status))
        {
            request.ReplyError(StanzaErrorCondition.ServiceUnavailable);
            return;
        }
        request.Reply(Query(now - at, status));
    }

    private static XmlElement Query(TimeSpan elapsed, string? status)
    {
        var seconds = Math.Max(0, (long)elapsed.TotalSeconds);
        var query = new XmlElement("query", Namespace).SetAttribute("seconds", seconds.ToString(CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(status)) query.Add(status);
        return query;
    }

    private static bool TryParse(string stored, out DateTimeOffset at, out string status)
    {
        var newline = stored.IndexOf('\n', StringComparison.Ordinal);
        var stamp = newline < 0 ? stored : stored[..newline];
        status = newline < 0 ? "" : stored[(newline + 1)..];
        if (long.TryParse(stamp, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms))
        {
            at = DateTimeOffset.FromUnixTimeMilliseconds(ms);
            return true;
        }
        at = default;
        return false;
    }
}
