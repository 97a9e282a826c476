using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Muc;

/// <summary>
/// Roles and affiliations (XEP-0045 §8 moderator use cases, §9 admin use cases): kick, voice, moderator, ban,
/// membership, admin and owner lists — by &lt;query xmlns='muc#admin'&gt;, all items of one request or none.
/// </summary>
public sealed partial class MucRoom
{
    private XmlElement AdminGet(XmlElement query, Occupant? requester, Jid from)
    {
        var item = query.Element("item", MucNs.Admin) ?? throw MucException.Of(StanzaErrorCondition.BadRequest, "Ask for a list: <item affiliation='...'/> or <item role='...'/>.");
        var result = new XmlElement("query", MucNs.Admin);
        var mine = AffiliationOf(from);
        if (item.GetAttribute("affiliation") is { } affiliationText)
        {
            if (!MucNames.TryParseAffiliation(affiliationText, out var affiliation) || affiliation == MucAffiliation.None)
                throw MucException.Of(StanzaErrorCondition.BadRequest, $"'{affiliationText}' is not an affiliation list.");
            // §9.5, §9.8, §10.5, §10.8: admins and owners get the lists; members may get the member list of a members-only room.
            var allowed = mine >= MucAffiliation.Admin || (affiliation == MucAffiliation.Member && Config.MembersOnly && mine == MucAffiliation.Member);
            if (!allowed) throw MucException.Of(StanzaErrorCondition.Forbidden, "Only admins and owners may see that list.");
            foreach (var (jid, entry) in _affiliations.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                if (entry.Affiliation != affiliation) continue;
                var e = result.AddElement("item").SetAttribute("affiliation", affiliationText).SetAttribute("jid", jid);
                if (entry.Nick is not null) e.SetAttribute("nick", entry.Nick);
                if (entry.Reason is not null) e.AddElement("reason").Add(entry.Reason);
            }
            return result;
        }
        if (item.GetAttribute("role") is { } roleText)
        {
            if (!MucNames.TryParseRole(roleText, out var role) || role == MucRole.None) throw MucException.Of(StanzaErrorCondition.BadRequest, $"'{roleText}' is not a role list.");
            if (requester?.Role != MucRole.Moderator) throw MucException.Of(StanzaErrorCondition.Forbidden, "Only moderators may see that list.");
            foreach (var occupant in _byNick.Values.OrderBy(o => o.Nick, StringComparer.Ordinal))
            {
                if (occupant.Role != role) continue;
                result.AddElement("item").SetAttribute("role", roleText).SetAttribute("nick", occupant.Nick)
                    .SetAttribute("affiliation", AffiliationOf(occupant.RealBare).Name()).SetAttribute("jid", occupant.Sessions[^1].Jid.ToString());
            }
            return result;
        }
        throw MucException.Of(StanzaErrorCondition.BadRequest, "Ask for a list: <item affiliation='...'/> or <item role='...'/>.");
    }

    private async ValueTask AdminSetAsync(XmlElement query, Occupant? actor, Jid from)
    {
        var roleChanges = new List<(Occupant Target, MucRole Role, string? Reason)>();
        var affiliationChanges = new List<(Jid Bare, MucAffiliation Affiliation, string? Reason)>();
        var mine = AffiliationOf(from);
        foreach (var item in query.Elements("item", MucNs.Admin))
        {
            var reason = item.Element("reason", MucNs.Admin)?.Text;
            if (item.GetAttribute("affiliation") is { } affiliationText)
            {
                if (!MucNames.TryParseAffiliation(affiliationText, out var affiliation)) throw MucException.Of(StanzaErrorCondition.BadRequest, $"'{affiliationText}' is not an affiliation.");
                Jid target;
                if (Jid.TryParse(item.GetAttribute("jid"), out var jid)) target = jid.Bare;
                else if (item.GetAttribute("nick") is { } nick && _byNick.TryGetValue(nick, out var byNick)) target = byNick.RealBare;
                else throw MucException.Of(StanzaErrorCondition.BadRequest, "An affiliation change needs the user's 'jid' (or the nick of an occupant).");
                CheckAffiliationChange(mine, AffiliationOf(target), affiliation, target, from);
                affiliationChanges.Add((target, affiliation, reason));
                continue;
            }
            if (item.GetAttribute("role") is { } roleText)
            {
                if (!MucNames.TryParseRole(roleText, out var role)) throw MucException.Of(StanzaErrorCondition.BadRequest, $"'{roleText}' is not a role.");
                var nick = item.GetAttribute("nick") ?? throw MucException.Of(StanzaErrorCondition.BadRequest, "A role change needs the occupant's 'nick'.");
                if (!_byNick.TryGetValue(nick, out var target)) throw MucException.Of(StanzaErrorCondition.ItemNotFound, "Nobody of that nickname is in the room.");
                CheckRoleChange(actor, mine, target, role);
                roleChanges.Add((target, role, reason));
                continue;
            }
            throw MucException.Of(StanzaErrorCondition.BadRequest, "Each item needs an 'affiliation' or a 'role'.");
        }
        if (roleChanges.Count + affiliationChanges.Count == 0) throw MucException.Of(StanzaErrorCondition.BadRequest, "No item to change.");
        // The room keeps an owner (§10.6, §10.7: the last owner may not leave the list).
        if (affiliationChanges.Count > 0)
        {
            var owners = new HashSet<string>(JidsWith(MucAffiliation.Owner), StringComparer.Ordinal);
            foreach (var (bare, affiliation, _) in affiliationChanges)
            {
                if (affiliation == MucAffiliation.Owner) owners.Add(bare.ToString());
                else owners.Remove(bare.ToString());
            }
            if (owners.Count == 0) throw MucException.Of(StanzaErrorCondition.Conflict, "A room needs at least one owner.");
        }
        var actorNick = actor?.Nick;
        if (affiliationChanges.Count > 0) await SetAffiliationsAsync(affiliationChanges, actorNick).ConfigureAwait(false);
        foreach (var (target, role, reason) in roleChanges)
        {
            if (!_byNick.ContainsKey(target.Nick) || target.Role == role) continue;
            if (role == MucRole.None)
            {
                RemoveOccupant(target, MucStatus.Kicked, actorNick, reason);
                continue;
            }
            target.Role = role;
            BroadcastPresence(target, [], actorNick, reason);
        }
    }

    /// <summary>Who may change whose affiliation (§9, §10): owners anything; admins members and outcasts below admin.</summary>
    private static void CheckAffiliationChange(MucAffiliation actor, MucAffiliation current, MucAffiliation next, Jid target, Jid from)
    {
        if (actor < MucAffiliation.Admin) throw MucException.Of(StanzaErrorCondition.Forbidden, "Only admins and owners may change affiliations.");
        if (actor == MucAffiliation.Owner) return;
        if (next >= MucAffiliation.Admin || current >= MucAffiliation.Admin)
        {
            throw MucException.Of(StanzaErrorCondition.NotAllowed, target.Bare == from.Bare
                ? "Admins may not change their own affiliation; an owner can."
                : "Only owners may grant or take admin and owner status.");
        }
    }

    /// <summary>Who may change whose role (§8, §9.6, §9.7).</summary>
    private void CheckRoleChange(Occupant? actor, MucAffiliation actorAffiliation, Occupant target, MucRole next)
    {
        if (actor is null || actor.Role != MucRole.Moderator) throw MucException.Of(StanzaErrorCondition.Forbidden, "Only moderators may change roles.");
        var targetAffiliation = AffiliationOf(target.RealBare);
        // Nobody takes a role from an occupant whose affiliation is above theirs, nor from an admin or owner at all
        // below moderator (their role comes with their affiliation), §8.2, §8.4, §9.7.
        if (targetAffiliation > actorAffiliation && target != actor)
            throw MucException.Of(StanzaErrorCondition.NotAllowed, "You may not change the role of someone with a higher affiliation.");
        if (targetAffiliation >= MucAffiliation.Admin && next < MucRole.Moderator)
            throw MucException.Of(StanzaErrorCondition.NotAllowed, "An admin or owner stays a moderator; change the affiliation first.");
        if ((next == MucRole.Moderator || target.Role == MucRole.Moderator) && actorAffiliation < MucAffiliation.Admin)
            throw MucException.Of(StanzaErrorCondition.NotAllowed, "Only admins and owners may grant or take moderator status.");
    }

    /// <summary>
    /// Applies affiliation changes: stored (persistent rooms), then each present occupant of the JID updated —
    /// banned (301), removed from a members-only room (321), or shown with its new affiliation and role — and, in a
    /// members-only room, the user told when not present (§9.3–§9.4, §10.3).
    /// </summary>
    private async ValueTask SetAffiliationsAsync(IReadOnlyList<(Jid Bare, MucAffiliation Affiliation, string? Reason)> changes, string? actor)
    {
        var records = new List<MucAffiliationRecord>(changes.Count);
        foreach (var (bare, affiliation, reason) in changes)
        {
            var key = bare.ToString();
            var nick = affiliation is MucAffiliation.Outcast ? null : ReservedNickOf(bare);
            records.Add(new MucAffiliationRecord(key, affiliation.Name(), nick, reason));
        }
        await SaveAffiliationsAsync(records).ConfigureAwait(false);
        foreach (var (bare, affiliation, reason) in changes)
        {
            var key = bare.ToString();
            var nick = affiliation is MucAffiliation.Outcast ? null : ReservedNickOf(bare);
            if (affiliation == MucAffiliation.None && nick is null) _affiliations.Remove(key);
            else _affiliations[key] = new AffiliationEntry(affiliation, nick, reason);

            var present = _byNick.Values.Where(o => o.RealBare == bare).ToArray();
            foreach (var occupant in present)
            {
                if (affiliation == MucAffiliation.Outcast) RemoveOccupant(occupant, MucStatus.Banned, actor, reason);
                else if (Config.MembersOnly && affiliation < MucAffiliation.Member) RemoveOccupant(occupant, MucStatus.AffiliationRemoved, actor, reason);
                else
                {
                    var role = DefaultRole(affiliation);
                    // A role granted by a moderator (voice, moderator) outlives an affiliation change that does not lower it.
                    occupant.Role = affiliation >= MucAffiliation.Admin ? MucRole.Moderator : occupant.Role == MucRole.Moderator ? MucRole.Participant : Max(role, occupant.Role);
                    BroadcastPresence(occupant, [], actor, reason);
                }
            }
            if (present.Length == 0) NotifyAbsent(bare, affiliation, reason);
        }
    }

    private static MucRole Max(MucRole a, MucRole b) => a > b ? a : b;

    /// <summary>
    /// A change for a user not in the room: in a members-only room the occupants who see real JIDs get the new
    /// affiliation as a message (§9.3 example "service sends notice of membership"), so clients that keep the member
    /// list (for encryption) stay right; the user is told by a message from the room.
    /// </summary>
    private void NotifyAbsent(Jid bare, MucAffiliation affiliation, string? reason)
    {
        if (!Config.MembersOnly) return;
        var notice = Stanza("message").SetAttribute("from", JidString);
        notice.AddElement("x", MucNs.User).AddElement("item").SetAttribute("affiliation", affiliation.Name()).SetAttribute("jid", bare.ToString()).SetAttribute("role", "none");
        SendToOccupants(notice, SeesRealJids);
        var told = Stanza("message");
        var item = told.AddElement("x", MucNs.User).AddElement("item").SetAttribute("affiliation", affiliation.Name()).SetAttribute("jid", bare.ToString());
        if (reason is not null) item.AddElement("reason").Add(reason);
        told.AddElement("body").Add(affiliation >= MucAffiliation.Member
            ? $"You are now {(affiliation == MucAffiliation.Member ? "a member" : "an " + affiliation.Name())} of the room {JidString}."
            : affiliation == MucAffiliation.Outcast ? $"You are banned from the room {JidString}." : $"You are no longer a member of the room {JidString}.");
        told.SetAttribute("from", JidString).SetAttribute("to", bare.ToString());
        _pendingNotices.Add((told, bare));
    }

    private readonly List<(XmlElement Message, Jid To)> _pendingNotices = [];
}
