using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Features.Muc;

/// <summary>
/// The iq requests to the room (§6.4 disco, §7.10 registration, §9 admin, §10 owner: configuration, instant rooms,
/// destruction).
/// </summary>
public sealed partial class MucRoom
{
    private async ValueTask HandleIqAsync(XmlElement iq, Jid from, Jid to)
    {
        if (to.Resource is not null)
        {
            await OccupantIqAsync(iq, from, to.Resource).ConfigureAwait(false);
            return;
        }
        var type = iq.GetAttribute("type");
        if (type is not ("get" or "set")) return;
        var set = type == "set";
        var payload = iq.FirstElement()!;
        _bySession.TryGetValue(from, out var occupant);
        XmlElement? result = (payload.Name, payload.Namespace, set) switch
        {
            ("query", Ns.DiscoInfo, false) => DiscoInfo(payload.GetAttribute("node"), from),
            ("query", Ns.DiscoItems, false) => DiscoItems(occupant),
            ("ping", Ns.Ping, false) => null,
            ("query", MucNs.Admin, false) => AdminGet(payload, occupant, from),
            ("query", MucNs.Admin, true) => await AdminSetAndReturnAsync(payload, occupant, from).ConfigureAwait(false),
            ("query", MucNs.Owner, false) => OwnerGet(from),
            ("query", MucNs.Owner, true) => await OwnerSetAsync(payload, occupant, from).ConfigureAwait(false),
            ("query", MucNs.IqRegister, false) => RegistrationGet(from),
            ("query", MucNs.IqRegister, true) => await RegisterAsync(payload, from).ConfigureAwait(false),
            ("moderate", ModerateNs, true) => await ModerateAsync(payload, occupant).ConfigureAwait(false),
            ("query", Ns.DiscoInfo or Ns.DiscoItems, true) => throw MucException.Of(StanzaErrorCondition.BadRequest, "Discovery is a get."),
            _ => throw MucException.Of(StanzaErrorCondition.ServiceUnavailable),
        };
        var reply = Stanza("iq").SetAttribute("type", "result").SetAttribute("id", iq.GetAttribute("id") ?? "").SetAttribute("from", JidString);
        if (result is not null) reply.Add(result);
        SendResult(reply, from);
    }

    private void SendResult(XmlElement reply, Jid to)
    {
        if (to.Resource is not null) SendTo(to, reply);
        else Server.Router.DeliverFromServer(reply.SetAttribute("to", to.ToString()), to);
    }

    private async ValueTask<XmlElement?> AdminSetAndReturnAsync(XmlElement query, Occupant? occupant, Jid from)
    {
        await AdminSetAsync(query, occupant, from).ConfigureAwait(false);
        return null;
    }

    // ---- configuration (§10.1, §10.2) ----------------------------------------------------------------------------

    private XmlElement OwnerGet(Jid from)
    {
        if (AffiliationOf(from) != MucAffiliation.Owner) throw MucException.Of(StanzaErrorCondition.Forbidden, "Only owners may configure the room.");
        var query = new XmlElement("query", MucNs.Owner);
        query.Add(Config.BuildForm(JidString, JidsWith(MucAffiliation.Owner).Order(StringComparer.Ordinal), JidsWith(MucAffiliation.Admin).Order(StringComparer.Ordinal)));
        return query;
    }

    private async ValueTask<XmlElement?> OwnerSetAsync(XmlElement query, Occupant? occupant, Jid from)
    {
        if (AffiliationOf(from) != MucAffiliation.Owner) throw MucException.Of(StanzaErrorCondition.Forbidden, "Only owners may configure or destroy the room.");
        if (query.Element("destroy", MucNs.Owner) is { } destroy)
        {
            await DestroyAsync(destroy.GetAttribute("jid"), destroy.Element("reason", MucNs.Owner)?.Text, destroy.Element("password", MucNs.Owner)?.Text).ConfigureAwait(false);
            return null;
        }
        var form = DataForm.Find(query) ?? throw MucException.Of(StanzaErrorCondition.BadRequest, "Submit the configuration form, cancel it, or destroy the room.");
        switch (form.GetAttribute("type"))
        {
            case "cancel":
                // Cancelling the first configuration destroys the new room (§10.1.3).
                if (Locked) await DestroyAsync(null, null, null).ConfigureAwait(false);
                return null;
            case "submit":
                await ConfigureAsync(ReadForm(form), occupant).ConfigureAwait(false);
                return null;
            default:
                throw MucException.Of(StanzaErrorCondition.BadRequest, "The form's type must be submit or cancel.");
        }
    }

    /// <summary>A submitted form's fields; a form without FORM_TYPE (as some clients send an instant room's) is taken as this room's.</summary>
    private static Dictionary<string, IReadOnlyList<string>> ReadForm(XmlElement form)
    {
        if (DataForm.ReadSubmit(form, RoomConfig.FormType) is { } fields) return fields;
        var read = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var field in form.Elements("field", DataForm.Namespace))
        {
            if (field.GetAttribute("var") is not { } var) continue;
            var values = new List<string>();
            foreach (var v in field.Elements("value", DataForm.Namespace)) values.Add(v.Text);
            read[var] = values;
        }
        if (read.TryGetValue("FORM_TYPE", out var formType) && (formType.Count != 1 || formType[0] != RoomConfig.FormType))
            throw MucException.Of(StanzaErrorCondition.BadRequest, $"The form's FORM_TYPE must be {RoomConfig.FormType}.");
        read.Remove("FORM_TYPE");
        return read;
    }

    private async ValueTask ConfigureAsync(Dictionary<string, IReadOnlyList<string>> fields, Occupant? actor)
    {
        var before = Config; // replaced below, never changed: what the room was
        var next = Config.Clone();
        if (!next.Apply(fields, _service.Options.MaxHistory, out var problem)) throw MucException.Of(StanzaErrorCondition.NotAcceptable, problem);
        if (next.Persistent && !before.Persistent && !Stored) await _service.CheckRoomQuotaAsync(Creator).ConfigureAwait(false);

        // The owner and admin lists of the form (§10.2 roomowners, roomadmins): an empty owner list is ignored (the room
        // keeps an owner), an admin list replaces the admins.
        var changes = new List<(Jid, MucAffiliation, string?)>();
        if (fields.TryGetValue("muc#roomconfig_roomowners", out var owners) && owners.Count > 0)
            changes.AddRange(ListChanges(owners, MucAffiliation.Owner));
        if (fields.TryGetValue("muc#roomconfig_roomadmins", out var admins))
            changes.AddRange(ListChanges(admins, MucAffiliation.Admin));

        var archivedBefore = Archives;
        Config = next;
        var wasLocked = Locked;
        Locked = false;
        await SaveAsync().ConfigureAwait(false);
        if (changes.Count > 0) await SetAffiliationsAsync(changes, actor?.Nick).ConfigureAwait(false);

        // Occupants are told that the configuration changed (§10.2.1: 104, and 172/173 when real JIDs became public
        // or hidden); a room that became members-only loses its non-members (322).
        if (!wasLocked)
        {
            var notice = Stanza("message").SetAttribute("type", "groupchat").SetAttribute("from", JidString);
            var x = notice.AddElement("x", MucNs.User);
            Status(x, MucStatus.ConfigurationChanged);
            if (next.WhoisAnyone != before.WhoisAnyone) Status(x, next.WhoisAnyone ? MucStatus.NowNonAnonymous : MucStatus.NowSemiAnonymous);
            if (Archives != archivedBefore) Status(x, Archives ? MucStatus.Logged : MucStatus.NotLogged);
            SendToOccupants(notice);
        }
        if (next.MembersOnly && !before.MembersOnly)
        {
            foreach (var occupant in _byNick.Values.ToArray())
            {
                if (AffiliationOf(occupant.RealBare) < MucAffiliation.Member) RemoveOccupant(occupant, MucStatus.MembersOnlyRemoved, actor?.Nick, null);
            }
        }
        if (next.Moderated != before.Moderated)
        {
            foreach (var occupant in _byNick.Values)
            {
                var role = DefaultRole(AffiliationOf(occupant.RealBare));
                if (occupant.Role != MucRole.Moderator && occupant.Role != role)
                {
                    occupant.Role = role;
                    BroadcastPresence(occupant, []);
                }
            }
        }
    }

    private IEnumerable<(Jid, MucAffiliation, string?)> ListChanges(IReadOnlyList<string> listed, MucAffiliation affiliation)
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var text in listed)
        {
            if (!Jid.TryParse(text, out var jid)) throw MucException.Of(StanzaErrorCondition.NotAcceptable, $"'{text}' is not a JID.");
            wanted.Add(jid.Bare.ToString());
        }
        foreach (var jid in wanted)
        {
            if (AffiliationOf(Jid.Parse(jid)) != affiliation) yield return (Jid.Parse(jid), affiliation, null);
        }
        foreach (var jid in JidsWith(affiliation).ToArray())
        {
            if (!wanted.Contains(jid)) yield return (Jid.Parse(jid), MucAffiliation.None, null);
        }
    }

    /// <summary>
    /// The server stops (§7.? status 332): each occupant's clients get their unavailable presence from the room with
    /// 332 and 110; the room keeps nobody (a persistent room stays stored, a temporary one goes).
    /// </summary>
    internal ValueTask ShutdownAsync() => UnderGateAsync(() =>
    {
        RemoveEveryone((occupant, session) => OccupantUnavailable(occupant, session, self: true, [MucStatus.Shutdown], null, null, null, null));
        if (!Config.Persistent) Drop();
        return ValueTask.CompletedTask;
    });

    /// <summary>Destroys the room from outside (the admin page), under the room's gate like any stanza.</summary>
    internal ValueTask DestroyByOperatorAsync(string reason) => UnderGateAsync(() => DestroyAsync(null, reason, null));

    /// <summary>Runs an action that does not come from a stanza (the admin page, a stop) under the room's gate, as a stanza would.</summary>
    private async ValueTask UnderGateAsync(Func<ValueTask> action)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (Gone) return;
            await action().ConfigureAwait(false);
            await FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Every occupant leaves at once (destruction, shutdown): each of its sessions gets <paramref name="goodbye"/>.</summary>
    private void RemoveEveryone(Func<Occupant, Jid, XmlElement> goodbye)
    {
        foreach (var occupant in _byNick.Values.ToArray())
        {
            foreach (var s in occupant.Sessions)
            {
                _bySession.Remove(s.Jid);
                SendTo(s.Jid, goodbye(occupant, s.Jid));
            }
            occupant.Sessions.Clear();
            _byNick.Remove(occupant.Nick);
            _service.OccupantsChanged(-1);
        }
    }

    /// <summary>
    /// Destroys the room (§10.9): every occupant leaves with &lt;destroy/&gt; (and the alternate venue and reason when
    /// given), the room is deleted from the store and the service.
    /// </summary>
    internal async ValueTask DestroyAsync(string? alternate, string? reason, string? password)
    {
        RemoveEveryone((occupant, _) =>
        {
            var presence = Stanza("presence").SetAttribute("type", "unavailable").SetAttribute("from", OccupantJid(occupant.Nick).ToString());
            var x = presence.AddElement("x", MucNs.User);
            x.AddElement("item").SetAttribute("affiliation", "none").SetAttribute("role", "none");
            var destroy = x.AddElement("destroy");
            if (alternate is not null) destroy.SetAttribute("jid", alternate);
            if (reason is not null) destroy.AddElement("reason").Add(reason);
            if (password is not null) destroy.AddElement("password").Add(password);
            Status(x, MucStatus.Self);
            return presence;
        });
        if (Stored) await Server.Storage.Muc.DeleteRoomAsync(_service.JidString, Name).ConfigureAwait(false);
        Stored = false;
        Drop();
    }

    // ---- registration (§7.10) ------------------------------------------------------------------------------------

    private XmlElement RegistrationGet(Jid from)
    {
        var query = new XmlElement("query", MucNs.IqRegister);
        var affiliation = AffiliationOf(from);
        if (affiliation == MucAffiliation.Outcast) throw MucException.Of(StanzaErrorCondition.Forbidden, "You are banned from this room.");
        if (affiliation >= MucAffiliation.Member && ReservedNickOf(from.Bare) is { } nick)
        {
            query.AddElement("registered");
            query.AddElement("username").Add(nick);
            return query;
        }
        query.AddElement("instructions").Add($"Register a nickname in {JidString} (it becomes yours in this room{(Config.MembersOnly ? "; an admin approves the membership" : " and makes you a member")}).");
        query.Add(DataForm.Build("form", MucNs.Register, [new("muc#register_roomnick", "text-single", [], "Nickname")], title: $"Registration in {JidString}"));
        return query;
    }

    private async ValueTask<XmlElement?> RegisterAsync(XmlElement query, Jid from)
    {
        var affiliation = AffiliationOf(from);
        if (affiliation == MucAffiliation.Outcast) throw MucException.Of(StanzaErrorCondition.Forbidden, "You are banned from this room.");
        var key = from.Bare.ToString();
        if (query.Element("remove", MucNs.IqRegister) is not null)
        {
            if (affiliation >= MucAffiliation.Admin) throw MucException.Of(StanzaErrorCondition.NotAllowed, "Admins and owners keep their affiliation; an owner changes it.");
            var removed = new List<Storage.MucAffiliationRecord> { new(key, "none") };
            await SaveAffiliationsAsync(removed).ConfigureAwait(false);
            _affiliations.Remove(key);
            return null;
        }
        var fields = DataForm.ReadSubmit(DataForm.Find(query), MucNs.Register)
            ?? throw MucException.Of(StanzaErrorCondition.BadRequest, $"Submit the {MucNs.Register} form.");
        if (!fields.TryGetValue("muc#register_roomnick", out var nicks) || nicks.Count != 1 || nicks[0].Length == 0)
            throw MucException.Of(StanzaErrorCondition.NotAcceptable, "muc#register_roomnick is required.");
        if (!Jid.IsValidResource(nicks[0])) throw MucException.Of(StanzaErrorCondition.JidMalformed, "That nickname cannot be used in a JID.");
        var nick = Jid.WithResource(nicks[0]).Resource!;
        if ((NickReservedBy(nick) is { } holder && holder != key) || (_byNick.TryGetValue(nick, out var present) && present.RealBare != from.Bare))
            throw MucException.Of(StanzaErrorCondition.Conflict, "That nickname is taken in this room.");
        if (Config.MembersOnly && affiliation < MucAffiliation.Member)
        {
            // A membership request: the admins and owners decide (they grant membership with an affiliation change).
            var request = Stanza("message");
            request.AddElement("body").Add($"{from.Bare} asks to become a member of {JidString} as '{nick}'. Grant it by making them a member.");
            request.Add(DataForm.Build("form", MucNs.Register,
            [
                new("muc#register_roomnick", "text-single", [nick], "Nickname"),
                new("muc#jid", "jid-single", [key], "User ID"),
            ], title: "Membership request"));
            foreach (var approver in JidsWith(MucAffiliation.Owner).Concat(JidsWith(MucAffiliation.Admin)).ToArray())
            {
                _pendingNotices.Add((request.Clone().SetAttribute("from", JidString).SetAttribute("to", approver), Jid.Parse(approver)));
            }
            return null;
        }
        var granted = affiliation == MucAffiliation.None ? MucAffiliation.Member : affiliation;
        var record = new Storage.MucAffiliationRecord(key, granted.Name(), nick);
        await SaveAffiliationsAsync([record]).ConfigureAwait(false);
        _affiliations[key] = new AffiliationEntry(granted, nick, null);
        foreach (var occupant in _byNick.Values.Where(o => o.RealBare == from.Bare).ToArray())
        {
            if (granted == MucAffiliation.Member && occupant.Role == MucRole.Visitor) occupant.Role = MucRole.Participant;
            BroadcastPresence(occupant, []);
        }
        return null;
    }
}
