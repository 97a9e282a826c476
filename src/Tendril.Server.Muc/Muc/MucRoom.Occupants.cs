using System.Globalization;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Features.Muc;

/// <summary>Presence: entering (§7.2), presence changes (§7.7), nick changes (§7.6), leaving (§7.14).</summary>
public sealed partial class MucRoom
{
    private ValueTask HandlePresenceAsync(XmlElement presence, Jid from, Jid to)
    {
        var type = presence.GetAttribute("type");
        _bySession.TryGetValue(from, out var occupant);
        switch (type)
        {
            case null:
                if (to.Resource is null) throw MucException.Of(StanzaErrorCondition.JidMalformed, "Enter a room with a nickname: room@service/nick (XEP-0045 §7.2.1).");
                if (occupant is null) Enter(presence, from, to.Resource);
                else if (occupant.Nick == to.Resource) UpdatePresence(occupant, from, presence);
                else ChangeNick(occupant, from, to.Resource, presence);
                return ValueTask.CompletedTask;
            case "unavailable":
                if (occupant is not null) RemoveSession(from, null, presence);
                return ValueTask.CompletedTask;
            case "error":
                // An occupant's client or server answered the room's presence with an error: it is gone (§7.? status 333).
                if (occupant is not null && IsFatal(presence)) RemoveSession(from, MucStatus.Error, null);
                return ValueTask.CompletedTask;
            default:
                return ValueTask.CompletedTask; // subscriptions and probes mean nothing to a room
        }
    }

    /// <summary>Error conditions after which the occupant's session is taken for gone (as Prosody does).</summary>
    private static bool IsFatal(XmlElement error) =>
        StanzaError.Parse(error)?.Condition is null or StanzaErrorCondition.Gone or StanzaErrorCondition.ItemNotFound or StanzaErrorCondition.RecipientUnavailable
            or StanzaErrorCondition.Redirect or StanzaErrorCondition.RemoteServerNotFound or StanzaErrorCondition.RemoteServerTimeout
            or StanzaErrorCondition.ServiceUnavailable;

    /// <summary>
    /// A session enters under <paramref name="nick"/> (§7.2): the checks of §7.2.5–§7.2.9 in the XEP's order, then the
    /// present occupants' presence to the newcomer, its own presence to everyone (status 110 to itself), the history
    /// and the subject.
    /// </summary>
    private void Enter(XmlElement presence, Jid from, string nick)
    {
        var muc = presence.Element("x", MucNs.Muc);
        var affiliation = AffiliationOf(from);
        if (Locked && affiliation != MucAffiliation.Owner)
            throw MucException.Of(StanzaErrorCondition.ItemNotFound, "This room is locked until its owner configures it (XEP-0045 §10.1.1).");
        if (affiliation == MucAffiliation.Outcast) throw MucException.Of(StanzaErrorCondition.Forbidden, "You are banned from this room.");
        if (_byNick.TryGetValue(nick, out var holder) && holder.RealBare != from.Bare)
            throw MucException.Of(StanzaErrorCondition.Conflict, "That nickname is in use in this room.");
        if (NickReservedBy(nick) is { } owner && owner != from.Bare.ToString())
            throw MucException.Of(StanzaErrorCondition.Conflict, "That nickname is reserved by another user of this room.");
        if (Config.MembersOnly && affiliation < MucAffiliation.Member)
            throw MucException.Of(StanzaErrorCondition.RegistrationRequired, "This room is for members only.");
        if (Config.Password is { } password && muc?.Element("password", MucNs.Muc)?.Text != password)
            throw MucException.Of(StanzaErrorCondition.NotAuthorized, "This room needs a password.");
        if (holder is null && affiliation < MucAffiliation.Admin && _byNick.Count >= MaxOccupants)
            throw MucException.Of(StanzaErrorCondition.ServiceUnavailable, StanzaErrorType.Wait, "This room is full.");

        var session = new OccupantSession(from, ClientPresence(presence));
        if (holder is not null)
        {
            // Another session of the same user under the same nick (§7.2 "multiple sessions"): it gets the room as a
            // newcomer does; the others see nothing new.
            holder.Sessions.Add(session);
            _bySession[from] = holder;
            SendRoster(holder, from);
            SendTo(from, OccupantPresence(holder, from, self: true, []));
            SendHistoryAndSubject(from, muc);
            return;
        }

        var occupant = new Occupant(nick, from.Bare, DefaultRole(affiliation), OccupantIdOf(from.Bare));
        occupant.Sessions.Add(session);
        _byNick[nick] = occupant;
        _bySession[from] = occupant;
        _service.OccupantsChanged(+1);
        SendRoster(occupant, from);
        BroadcastPresence(occupant, _justCreated ? [MucStatus.Created] : []);
        _justCreated = false;
        SendHistoryAndSubject(from, muc);
    }

    private int MaxOccupants => Config.MaxUsers == 0 ? _service.Options.MaxOccupants : Math.Min(Config.MaxUsers, _service.Options.MaxOccupants);

    /// <summary>The client's presence as the room shows it: without the MUC join element and any muc#user or occupant-id it claimed.</summary>
    private static XmlElement ClientPresence(XmlElement presence)
    {
        var copy = new XmlElement("presence", Ns.Client);
        foreach (var child in presence.Children)
        {
            if (child is XmlElement e && (e.Is("x", MucNs.Muc) || e.Is("x", MucNs.User) || e.Namespace == MucNs.OccupantId || e.Name == "error")) continue;
            copy.Add(child);
        }
        return copy;
    }

    /// <summary>The present occupants' presence, to a newcomer's session (§7.2.3), as broadcast per the room's configuration.</summary>
    private void SendRoster(Occupant newcomer, Jid session)
    {
        var withJids = SeesRealJids(newcomer);
        foreach (var other in _byNick.Values)
        {
            if (other == newcomer || !Config.PresenceBroadcast.Contains(other.Role)) continue;
            SendTo(session, OccupantPresence(other, withJids ? other.Sessions[^1].Jid : null, self: false, []));
        }
    }

    private void SendHistoryAndSubject(Jid session, XmlElement? muc)
    {
        foreach (var entry in SelectHistory(muc?.Element("history", MucNs.Muc)))
        {
            var copy = entry.Message.CloneShallow();
            copy.AddElement("delay", Ns.Delay).SetAttribute("from", JidString).SetAttribute("stamp", entry.At.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            SendTo(session, copy);
        }
        // The subject, always last and always sent, empty when none is set (§7.2.15).
        var subject = Stanza("message").SetAttribute("type", "groupchat").SetAttribute("id", Guid.NewGuid().ToString("N"))
            .SetAttribute("from", SubjectBy is { } by && _byNick.ContainsKey(by) ? OccupantJid(by).ToString() : JidString);
        subject.AddElement("subject").Add(Subject ?? "");
        if (SubjectAt is { } at && Subject is not null)
            subject.AddElement("delay", Ns.Delay).SetAttribute("from", JidString).SetAttribute("stamp", at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
        SendTo(session, subject);
    }

    /// <summary>The history a newcomer asked for (§7.2.14): maxstanzas, maxchars, seconds and since, within the room's length.</summary>
    private List<HistoryEntry> SelectHistory(XmlElement? request)
    {
        var limit = Config.HistoryLength;
        int? maxChars = null;
        DateTimeOffset? since = null;
        if (request is not null)
        {
            if (int.TryParse(request.GetAttribute("maxstanzas"), NumberStyles.None, CultureInfo.InvariantCulture, out var stanzas)) limit = Math.Min(limit, stanzas);
            if (int.TryParse(request.GetAttribute("maxchars"), NumberStyles.None, CultureInfo.InvariantCulture, out var chars)) maxChars = chars;
            if (int.TryParse(request.GetAttribute("seconds"), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)) since = Server.Time.GetUtcNow().AddSeconds(-seconds);
            if (DateTimeOffset.TryParse(request.GetAttribute("since"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var sinceAt) && (since is null || sinceAt > since)) since = sinceAt;
        }
        var picked = new List<HistoryEntry>();
        var total = 0;
        foreach (var entry in _history.Reverse())
        {
            if (picked.Count >= limit || (since is { } s && entry.At < s)) break;
            if (maxChars is { } max && total + entry.Chars > max) break;
            total += entry.Chars;
            picked.Add(entry);
        }
        picked.Reverse();
        return picked;
    }

    private void AddToHistory(XmlElement reflected)
    {
        var limit = Math.Min(Config.HistoryLength, _service.Options.MaxHistory);
        if (limit == 0) return;
        _history.Enqueue(new HistoryEntry(reflected, Server.Time.GetUtcNow(), (int)reflected.EstimateSize()));
        while (_history.Count > limit) _history.Dequeue();
    }

    private void UpdatePresence(Occupant occupant, Jid from, XmlElement presence)
    {
        var session = occupant.Sessions.Find(s => s.Jid == from)!;
        session.Presence = ClientPresence(presence);
        // The latest session's presence is the one shown.
        occupant.Sessions.Remove(session);
        occupant.Sessions.Add(session);
        BroadcastPresence(occupant, []);
    }

    /// <summary>A nick change (§7.6): unavailable under the old nick with 303 and the new nick, then available under the new one.</summary>
    private void ChangeNick(Occupant occupant, Jid from, string nick, XmlElement presence)
    {
        if (_byNick.TryGetValue(nick, out var holder) && holder.RealBare != occupant.RealBare)
            throw MucException.Of(StanzaErrorCondition.Conflict, "That nickname is in use in this room.");
        if (NickReservedBy(nick) is { } owner && owner != occupant.RealBare.ToString())
            throw MucException.Of(StanzaErrorCondition.Conflict, "That nickname is reserved by another user of this room.");
        if (holder is not null)
            throw MucException.Of(StanzaErrorCondition.NotAcceptable, "You are in the room under that nickname already, from another client.");
        var session = occupant.Sessions.Find(s => s.Jid == from)!;
        session.Presence = ClientPresence(presence);
        BroadcastUnavailable(occupant, from, occupant.Sessions.Select(s => s.Jid).ToArray(), [MucStatus.NickChanged], newNick: nick, null, null, null);
        _byNick.Remove(occupant.Nick);
        occupant.Nick = nick;
        _byNick[nick] = occupant;
        BroadcastPresence(occupant, []);
    }

    /// <summary>
    /// A session leaves (its unavailable presence, its session gone, or removed by the room). The occupant leaves with
    /// its last session: everyone is told, with <paramref name="status"/> (301, 307, 321, 322, 333) when given.
    /// </summary>
    private void RemoveSession(Jid session, int? status, XmlElement? presence, string? actor = null, string? reason = null)
    {
        if (!_bySession.Remove(session, out var occupant)) return;
        occupant.Sessions.RemoveAll(s => s.Jid == session);
        int[] statuses = status is { } st ? [st] : [];
        if (occupant.Sessions.Count > 0)
        {
            // The user is still here from another client: only this session is told it left.
            SendTo(session, OccupantUnavailable(occupant, session, self: true, statuses, null, actor, reason, presence));
            return;
        }
        _byNick.Remove(occupant.Nick);
        _service.OccupantsChanged(-1);
        BroadcastUnavailable(occupant, session, [session], statuses, newNick: null, actor, reason, presence);
    }

    /// <summary>Removes every session of an occupant (kick, ban, membership lost, destruction) with the status given.</summary>
    private void RemoveOccupant(Occupant occupant, int status, string? actor, string? reason)
    {
        var sessions = occupant.Sessions.Select(s => s.Jid).ToArray();
        for (var i = 0; i < sessions.Length - 1; i++)
        {
            _bySession.Remove(sessions[i]);
            SendTo(sessions[i], OccupantUnavailable(occupant, sessions[i], self: true, [status], null, actor, reason, null));
        }
        occupant.Sessions.RemoveRange(0, occupant.Sessions.Count - 1);
        RemoveSession(sessions[^1], status, null, actor, reason);
    }

    // ---- presence stanzas ----------------------------------------------------------------------------------------

    /// <summary>The occupant's presence to every session in the room (its own sessions with 110), when its role is broadcast.</summary>
    private void BroadcastPresence(Occupant occupant, int[] statuses, string? actor = null, string? reason = null) =>
        Broadcast(occupant, occupant.Sessions[^1].Jid, occupant.Sessions.ConvertAll(s => s.Jid), Config.PresenceBroadcast.Contains(occupant.Role),
            (jid, self) => OccupantPresence(occupant, jid, self, statuses, actor, reason));

    /// <summary>
    /// The occupant's unavailable presence: to <paramref name="selfSessions"/> with 110, to the others when its role is
    /// broadcast (or for a nick change, which everyone must see). The occupant is already out of the table when it left.
    /// </summary>
    private void BroadcastUnavailable(Occupant occupant, Jid realJid, IReadOnlyList<Jid> selfSessions, int[] statuses, string? newNick,
        string? actor, string? reason, XmlElement? clientPresence) =>
        Broadcast(occupant, realJid, selfSessions, Config.PresenceBroadcast.Contains(occupant.Role) || newNick is not null,
            (jid, self) => OccupantUnavailable(occupant, jid, self, statuses, newNick, actor, reason, clientPresence));

    /// <summary>
    /// A presence of the occupant (<paramref name="make"/>: for a real JID or none, to itself or not) to its own
    /// <paramref name="selfSessions"/> and, when <paramref name="toOthers"/>, to every other occupant — the real JID only
    /// to those who may see it (§5.1.1); each variant serialized once.
    /// </summary>
    private void Broadcast(Occupant occupant, Jid realJid, IReadOnlyList<Jid> selfSessions, bool toOthers, Func<Jid?, bool, XmlElement> make)
    {
        var self = new SerializedStanza(make(realJid, true));
        foreach (var s in selfSessions) SendTo(s, self);
        if (!toOthers) return;
        SerializedStanza? withJid = null, withoutJid = null;
        foreach (var other in _byNick.Values)
        {
            if (other == occupant) continue;
            var stanza = SeesRealJids(other) ? withJid ??= new SerializedStanza(make(realJid, false)) : withoutJid ??= new SerializedStanza(make(null, false));
            foreach (var s in other.Sessions) SendTo(s.Jid, stanza);
        }
    }

    /// <summary>
    /// &lt;presence from='room/nick'&gt; with the client's own presence and &lt;x xmlns='muc#user'&gt;&lt;item affiliation
    /// role [jid]/&gt; and the status codes (§7.2.3, §15.6.2): 110 to the occupant itself, 100 there when real JIDs are
    /// public, 170 when the room is archived, and the XEP-0421 occupant id.
    /// </summary>
    private XmlElement OccupantPresence(Occupant occupant, Jid? realJid, bool self, int[] statuses, string? actor = null, string? reason = null)
    {
        var presence = occupant.Presence.CloneShallow().SetAttribute("from", OccupantJid(occupant.Nick).ToString());
        var x = UserX(presence, occupant, occupant.Role, realJid, null, actor, reason, statuses);
        if (self)
        {
            if (Config.WhoisAnyone) Status(x, MucStatus.NonAnonymous);
            if (Archives) Status(x, MucStatus.Logged);
            Status(x, MucStatus.Self);
        }
        presence.AddElement("occupant-id", MucNs.OccupantId).SetAttribute("id", occupant.OccupantId);
        return presence;
    }

    /// <summary>The occupant's unavailable presence (role none; for a nick change, its role and the new nick).</summary>
    private XmlElement OccupantUnavailable(Occupant occupant, Jid? realJid, bool self, int[] statuses, string? newNick, string? actor, string? reason, XmlElement? clientPresence)
    {
        var presence = Stanza("presence").SetAttribute("type", "unavailable").SetAttribute("from", OccupantJid(occupant.Nick).ToString());
        if (clientPresence?.Element("status") is { } text) presence.Add(text);
        var x = UserX(presence, occupant, newNick is null ? MucRole.None : occupant.Role, realJid, newNick, actor, reason, statuses);
        if (self) Status(x, MucStatus.Self);
        presence.AddElement("occupant-id", MucNs.OccupantId).SetAttribute("id", occupant.OccupantId);
        return presence;
    }

    /// <summary>&lt;x xmlns='muc#user'&gt;&lt;item affiliation role [jid] [nick]&gt;[actor][reason]&lt;/item&gt; and the status codes.</summary>
    private XmlElement UserX(XmlElement presence, Occupant occupant, MucRole role, Jid? realJid, string? nick, string? actor, string? reason, int[] statuses)
    {
        var x = presence.AddElement("x", MucNs.User);
        var item = x.AddElement("item").SetAttribute("affiliation", AffiliationOf(occupant.RealBare).Name()).SetAttribute("role", role.Name());
        if (realJid is not null) item.SetAttribute("jid", realJid.ToString());
        if (nick is not null) item.SetAttribute("nick", nick);
        if (actor is not null) item.AddElement("actor").SetAttribute("nick", actor);
        if (reason is not null) item.AddElement("reason").Add(reason);
        foreach (var code in statuses) Status(x, code);
        return x;
    }

    private static void Status(XmlElement x, int code) => x.AddElement("status").SetAttribute("code", code.ToString(CultureInfo.InvariantCulture));
}
