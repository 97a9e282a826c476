using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Muc;

/// <summary>
/// Messages: groupchat (§7.4), the subject (§8.1), private messages (§7.5), invitations (§7.8.2), voice requests
/// (§7.13, §8.6), and iq between occupants (§7.5 does not cover it; proxied as Prosody does, with XEP-0410 self-pings
/// answered by the room).
/// </summary>
public sealed partial class MucRoom
{
    private readonly Dictionary<string, PendingIq> _pendingIqs = new(StringComparer.Ordinal);
    private long _iqCounter;

    private sealed record PendingIq(Jid Requester, string? Id, Jid Target, string TargetNick, DateTimeOffset Expires);

    private async ValueTask HandleMessageAsync(XmlElement message, Jid from, Jid to)
    {
        var type = message.GetAttribute("type") ?? "normal";
        _bySession.TryGetValue(from, out var sender);
        if (type == "error")
        {
            if (sender is not null && IsFatal(message)) RemoveSession(from, MucStatus.Error, null);
            return;
        }
        if (to.Resource is not null)
        {
            PrivateMessage(message, sender, type, to.Resource);
            return;
        }
        if (type == "groupchat")
        {
            await GroupchatAsync(message, sender).ConfigureAwait(false);
            return;
        }
        if (message.Element("x", MucNs.User) is { } user)
        {
            await InvitationsAsync(user, from, sender).ConfigureAwait(false);
            return;
        }
        if (DataForm.Find(message) is { } form && DataForm.ReadSubmit(form, MucNs.Request) is { } fields)
        {
            VoiceRequest(fields, sender);
            return;
        }
        throw MucException.Of(StanzaErrorCondition.BadRequest, "Send messages of type groupchat to the room, or private messages to room/nick.");
    }

    private async ValueTask GroupchatAsync(XmlElement message, Occupant? sender)
    {
        if (sender is null) throw MucException.Of(StanzaErrorCondition.NotAcceptable, "You are not in this room.");
        var subject = message.Element("subject");
        if (subject is not null && message.Element("body") is null)
        {
            ChangeSubject(message, sender, subject.Text);
            return;
        }
        if (sender.Role < MucRole.Participant) throw MucException.Of(StanzaErrorCondition.Forbidden, "Visitors may not send messages in this moderated room.");
        CheckRate(sender);
        if (message.Element("retract", RetractNs) is { } retract) await RetractOwnAsync(retract, sender).ConfigureAwait(false);

        var reflected = Reflect(message, sender);
        var now = Server.Time.GetUtcNow();
        var id = Guid.CreateVersion7(now).ToString("N");
        reflected.AddElement("stanza-id", MucNs.StanzaId).SetAttribute("id", id).SetAttribute("by", JidString);
        if (message.Element("body") is not null)
        {
            AddToHistory(reflected);
            // The archive id is the stanza-id every occupant got (XEP-0313 §5.1.2), so a client dedups history by it.
            // The writer's queue is bounded: when storage lags, the room waits here (back-pressure), nothing is lost.
            if (Archives)
            {
                var record = new ArchivedMessage(id, now, OccupantJid(sender.Nick).ToString(), ArchiveDirection.Incoming, StoredStanza.Serialize(reflected));
                await _service.Archive!.EnqueueAsync(new ArchiveAppend(_service.JidString, Name, record)).ConfigureAwait(false);
            }
        }
        SendToOccupants(reflected);
        _service.MessageReflected();
    }

    /// <summary>
    /// The message as the room sends it on: from room/nick, the sender's id kept (muc#stable_id), what a client may not
    /// claim (the room's stanza-id, an occupant id) removed, the sender's occupant id added (XEP-0421 §3.2).
    /// </summary>
    private XmlElement Reflect(XmlElement message, Occupant sender)
    {
        var reflected = new XmlElement("message", Ns.Client);
        foreach (var attribute in message.Attributes)
        {
            if (attribute.Name is not ("to" or "from") || attribute.Namespace.Length != 0) reflected.AddAttributeUnchecked(attribute);
        }
        reflected.SetAttribute("from", OccupantJid(sender.Nick).ToString());
        foreach (var child in message.Children)
        {
            if (child is XmlElement e && (e.Namespace == MucNs.OccupantId || (e.Is("stanza-id", MucNs.StanzaId) && e.GetAttribute("by") == JidString))) continue;
            reflected.Add(child);
        }
        reflected.AddElement("occupant-id", MucNs.OccupantId).SetAttribute("id", sender.OccupantId);
        return reflected;
    }

    /// <summary>A subject change (§8.1): moderators, or participants when the room lets them.</summary>
    private void ChangeSubject(XmlElement message, Occupant sender, string subject)
    {
        if (!(sender.Role == MucRole.Moderator || (Config.ChangeSubject && sender.Role >= MucRole.Participant)))
            throw MucException.Of(StanzaErrorCondition.Forbidden, "Only moderators may change the subject of this room.");
        Subject = subject;
        SubjectBy = sender.Nick;
        SubjectAt = Server.Time.GetUtcNow();
        SendToOccupants(Reflect(message, sender));
        if (Stored) _ = SaveSubjectAsync();
    }

    private async Task SaveSubjectAsync()
    {
        try
        {
            await Server.Storage.Muc.SaveRoomAsync(Record()).ConfigureAwait(false);
        }
        catch (Tendril.Storage.StorageException e)
        {
            _service.StorageFailed(e, JidString);
        }
    }

    /// <summary>Token bucket per occupant: <c>Tendril:Muc:MessagesPerSecond</c> on average, ten seconds' worth at once.</summary>
    private void CheckRate(Occupant sender)
    {
        var rate = _service.Options.MessagesPerSecond;
        if (!sender.Rate.TryTake(rate, rate * 10, Security.TokenBucket.Seconds(Server.Time)))
            throw MucException.Of(StanzaErrorCondition.ResourceConstraint, StanzaErrorType.Wait, "You are sending messages too fast; wait a moment.");
    }

    /// <summary>A private message to an occupant (§7.5), to each of its sessions, from room/sender-nick.</summary>
    private void PrivateMessage(XmlElement message, Occupant? sender, string type, string nick)
    {
        if (sender is null) throw MucException.Of(StanzaErrorCondition.NotAcceptable, "You are not in this room.");
        if (type == "groupchat") throw MucException.Of(StanzaErrorCondition.BadRequest, "A groupchat message goes to the room, not to one occupant.");
        var allowed = Config.AllowPrivateMessages switch
        {
            PrivateMessages.Anyone => true,
            PrivateMessages.Participants => sender.Role >= MucRole.Participant,
            PrivateMessages.Moderators => sender.Role == MucRole.Moderator,
            _ => false,
        };
        if (!allowed) throw MucException.Of(StanzaErrorCondition.Forbidden, "Private messages are not allowed to you in this room.");
        if (!_byNick.TryGetValue(nick, out var target)) throw MucException.Of(StanzaErrorCondition.ItemNotFound, "Nobody of that nickname is in the room.");
        CheckRate(sender);
        var reflected = Reflect(message, sender);
        reflected.AddElement("x", MucNs.User);
        var serialized = new SerializedStanza(reflected);
        foreach (var s in target.Sessions) SendTo(s.Jid, serialized);
    }

    // ---- invitations (§7.8.2) ------------------------------------------------------------------------------------

    private async ValueTask InvitationsAsync(XmlElement user, Jid from, Occupant? sender)
    {
        var handled = false;
        foreach (var invite in user.Elements("invite", MucNs.User))
        {
            handled = true;
            if (sender is null) throw MucException.Of(StanzaErrorCondition.NotAcceptable, "Only occupants may invite to this room.");
            var affiliation = AffiliationOf(sender.RealBare);
            if (!(Config.AllowInvites || sender.Role == MucRole.Moderator || affiliation >= MucAffiliation.Admin))
                throw MucException.Of(StanzaErrorCondition.Forbidden, "Invitations are not allowed to you in this room.");
            if (!Jid.TryParse(invite.GetAttribute("to"), out var invitee)) throw MucException.Of(StanzaErrorCondition.JidMalformed, "The invitation's 'to' is not a JID.");
            if (AffiliationOf(invitee) == MucAffiliation.Outcast) throw MucException.Of(StanzaErrorCondition.Forbidden, "That user is banned from this room.");
            // In a members-only room an invitation by whoever may invite makes the invitee a member (§7.8.2 allows it).
            if (Config.MembersOnly && AffiliationOf(invitee) == MucAffiliation.None)
            {
                await SetAffiliationsAsync([(invitee.Bare, MucAffiliation.Member, (string?)null)], sender.Nick).ConfigureAwait(false);
            }
            var reason = invite.Element("reason", MucNs.User)?.Text;
            var message = Stanza("message");
            var x = message.AddElement("x", MucNs.User);
            var forwarded = x.AddElement("invite").SetAttribute("from", from.Bare.ToString());
            if (reason is not null) forwarded.AddElement("reason").Add(reason);
            if (Config.Password is { } password) x.AddElement("password").Add(password);
            message.AddElement("body").Add($"{from.Bare} invites you to the room {JidString}{(reason is null ? "" : ": " + reason)}");
            await SendFromRoomAsync(message, invitee).ConfigureAwait(false);
        }
        foreach (var decline in user.Elements("decline", MucNs.User))
        {
            handled = true;
            if (!Jid.TryParse(decline.GetAttribute("to"), out var inviter)) throw MucException.Of(StanzaErrorCondition.JidMalformed, "The decline's 'to' is not a JID.");
            var message = Stanza("message");
            var forwarded = message.AddElement("x", MucNs.User).AddElement("decline").SetAttribute("from", from.Bare.ToString());
            if (decline.Element("reason", MucNs.User)?.Text is { } reason) forwarded.AddElement("reason").Add(reason);
            await SendFromRoomAsync(message, inviter).ConfigureAwait(false);
        }
        if (!handled) throw MucException.Of(StanzaErrorCondition.BadRequest, "Nothing to do with this message: no invite or decline.");
    }

    // ---- voice requests (§7.13) and their approval (§8.6) --------------------------------------------------------

    private void VoiceRequest(IReadOnlyDictionary<string, IReadOnlyList<string>> fields, Occupant? sender)
    {
        if (sender is null) throw MucException.Of(StanzaErrorCondition.NotAcceptable, "You are not in this room.");
        if (fields.TryGetValue("muc#request_allow", out var allow) && allow.Count == 1)
        {
            // A moderator's answer to a voice request.
            if (sender.Role != MucRole.Moderator) throw MucException.Of(StanzaErrorCondition.Forbidden, "Only moderators may grant voice.");
            var nick = fields.TryGetValue("muc#roomnick", out var n) && n.Count == 1 ? n[0] : null;
            if (DataForm.ParseBool(allow[0]) == true && nick is not null && _byNick.TryGetValue(nick, out var visitor) && visitor.Role == MucRole.Visitor)
            {
                visitor.Role = MucRole.Participant;
                BroadcastPresence(visitor, [], actor: sender.Nick);
            }
            return;
        }
        if (sender.Role != MucRole.Visitor) throw MucException.Of(StanzaErrorCondition.NotAcceptable, "You have voice already.");
        var form = DataForm.Build("form", MucNs.Request,
        [
            new("muc#role", "list-single", ["participant"], "Requested role", ["participant"]),
            new("muc#jid", "jid-single", [sender.Sessions[^1].Jid.ToString()], "User ID"),
            new("muc#roomnick", "text-single", [sender.Nick], "Room nickname"),
            new("muc#request_allow", "boolean", ["false"], "Grant voice to this person?"),
        ], title: "Voice request", instructions: "To approve this request for voice, select the \"Grant voice to this person?\" checkbox and submit this form.");
        var request = Stanza("message").SetAttribute("from", JidString);
        request.Add(form);
        SendToOccupants(request, static o => o.Role == MucRole.Moderator);
    }

    // ---- iq to an occupant ---------------------------------------------------------------------------------------

    /// <summary>
    /// An iq to room/nick. A ping to one's own nick is a self-ping (XEP-0410 §4): answered by the room for a joined
    /// client, not-acceptable otherwise. Other requests go to the occupant's client (vCard requests to its account, as
    /// clients expect the server to answer them), their answers back to the requester; the ids are the room's own so
    /// answers cannot be forged.
    /// </summary>
    private async ValueTask OccupantIqAsync(XmlElement iq, Jid from, string nick)
    {
        var type = iq.GetAttribute("type");
        _bySession.TryGetValue(from, out var sender);
        if (type is "result" or "error")
        {
            // An answer to a request the room passed on: back to the requester, from the answering occupant.
            var id = iq.GetAttribute("id");
            if (id is null || !_pendingIqs.TryGetValue(id, out var pending) || pending.Target != from) return;
            _pendingIqs.Remove(id);
            var answer = iq.CloneShallow().SetAttribute("from", OccupantJid(pending.TargetNick).ToString()).SetAttribute("to", null).SetAttribute("id", pending.Id);
            SendTo(pending.Requester, answer);
            return;
        }
        if (sender is null) throw MucException.Of(StanzaErrorCondition.NotAcceptable, "You are not in this room.");
        if (!_byNick.TryGetValue(nick, out var target)) throw MucException.Of(StanzaErrorCondition.ItemNotFound, "Nobody of that nickname is in the room.");
        var payload = iq.FirstElement();
        if (target == sender && payload is not null && payload.Is("ping", Ns.Ping) && type == "get")
        {
            var result = Stanza("iq").SetAttribute("type", "result").SetAttribute("id", iq.GetAttribute("id")).SetAttribute("from", OccupantJid(nick).ToString());
            SendTo(from, result);
            return;
        }
        var now = Server.Time.GetUtcNow();
        if (_pendingIqs.Count >= 1000) ExpirePendingIqs(now);
        if (_pendingIqs.Count >= 1000) throw MucException.Of(StanzaErrorCondition.ResourceConstraint, StanzaErrorType.Wait, "Too many requests in flight in this room.");
        var to = payload is not null && payload.Namespace == "vcard-temp" ? target.RealBare : target.Sessions[^1].Jid;
        var newId = "muc" + (++_iqCounter).ToString(System.Globalization.CultureInfo.InvariantCulture);
        _pendingIqs[newId] = new PendingIq(from, iq.GetAttribute("id"), to, nick, now.AddMinutes(1));
        var senderJid = OccupantJid(sender.Nick);
        var forwarded = iq.CloneShallow().SetAttribute("from", senderJid.ToString()).SetAttribute("to", to.ToString()).SetAttribute("id", newId);
        await Server.Router.RouteAsync(forwarded, senderJid, to).ConfigureAwait(false);
    }

    private void ExpirePendingIqs(DateTimeOffset now)
    {
        foreach (var (id, pending) in _pendingIqs.ToArray())
        {
            if (pending.Expires < now) _pendingIqs.Remove(id);
        }
    }
}
