using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Muc;

/// <summary>
/// XEP-0425 moderated message retraction (v0.3): a moderator retracts a message by the stanza-id the room gave it; the
/// occupants are told with a XEP-0424 &lt;retract/&gt; carrying &lt;moderated/&gt;, the message leaves the history, and
/// the archive keeps a tombstone in its place (XEP-0425 §4).
/// </summary>
public sealed partial class MucRoom
{
    public const string ModerateNs = "urn:xmpp:message-moderate:1";
    public const string RetractNs = "urn:xmpp:message-retract:1";

    private async ValueTask<XmlElement?> ModerateAsync(XmlElement moderate, Occupant? moderator)
    {
        if (moderator is null || moderator.Role != MucRole.Moderator)
            throw MucException.Of(StanzaErrorCondition.Forbidden, "Only moderators may retract other occupants' messages.");
        if (moderate.Element("retract", RetractNs) is null)
            throw MucException.Of(StanzaErrorCondition.BadRequest, "Only retraction is supported: <retract xmlns='urn:xmpp:message-retract:1'/>.");
        var id = moderate.GetAttribute("id");
        if (string.IsNullOrEmpty(id)) throw MucException.Of(StanzaErrorCondition.BadRequest, "Name the message by the room's stanza-id ('id').");
        var reason = moderate.Element("reason", ModerateNs)?.Text;

        // The message: in the history, in the archive, or both.
        var inHistory = RemoveFromHistory(id);
        var archived = await FindArchivedAsync(id).ConfigureAwait(false) is { } original && await TombstoneAsync(id, original, moderator, reason).ConfigureAwait(false);
        if (!inHistory && !archived) throw MucException.Of(StanzaErrorCondition.ItemNotFound, "No message of this room has that stanza-id.");

        var notice = Stanza("message").SetAttribute("type", "groupchat").SetAttribute("id", Guid.NewGuid().ToString("N")).SetAttribute("from", JidString);
        var retract = notice.AddElement("retract", RetractNs).SetAttribute("id", id);
        Moderated(retract, moderator);
        if (reason is not null) retract.AddElement("reason", RetractNs).Add(reason);
        SendToOccupants(notice);
        return null;
    }

    private void Moderated(XmlElement parent, Occupant moderator) =>
        parent.AddElement("moderated", ModerateNs).SetAttribute("by", OccupantJid(moderator.Nick).ToString())
            .AddElement("occupant-id", MucNs.OccupantId).SetAttribute("id", moderator.OccupantId);

    /// <summary>The archived message named by the room's stanza-id (once what was queued before is written), or null.</summary>
    private async ValueTask<XmlElement?> FindArchivedAsync(string id)
    {
        if (!Archives) return null;
        if (_service.Archive is { } writer) await writer.WaitWrittenAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
        var page = await Server.Storage.Muc.Archive.QueryAsync(_service.JidString, Name, new ArchiveQuery { Ids = [id], Max = 1 }).ConfigureAwait(false);
        return page.Items.Count == 1 ? StoredStanza.Parse(page.Items[0].Stanza) : null;
    }

    /// <summary>
    /// Replaces the archived message with a tombstone (XEP-0425 §4, XEP-0424): its content (body and every payload)
    /// gives way to &lt;retracted/&gt; — with &lt;moderated/&gt; and the reason when a moderator retracted it — and who
    /// sent it stays (attributes, occupant id, stanza id).
    /// </summary>
    private async ValueTask<bool> TombstoneAsync(string id, XmlElement original, Occupant? moderator, string? reason)
    {
        var tombstone = new XmlElement("message", Ns.Client);
        foreach (var attribute in original.Attributes) tombstone.AddAttributeUnchecked(attribute);
        foreach (var child in original.Elements())
        {
            if (child.Namespace is MucNs.OccupantId or MucNs.StanzaId) tombstone.Add(child);
        }
        var retracted = tombstone.AddElement("retracted", RetractNs).SetAttribute("stamp", XmppDateTime.Format(Server.Time.GetUtcNow()));
        if (moderator is not null) Moderated(retracted, moderator);
        if (reason is not null) retracted.AddElement("reason", RetractNs).Add(reason);
        return await Server.Storage.Muc.Archive.ReplaceAsync(_service.JidString, Name, id, StoredStanza.Serialize(tombstone)).ConfigureAwait(false);
    }

    /// <summary>
    /// XEP-0424 in a room: an occupant retracts one of its own messages (named by the room's stanza-id). The author is
    /// checked by occupant id — nobody retracts another's message this way (a moderator uses XEP-0425) — then the
    /// message leaves the history and the archive keeps a tombstone; the retraction itself is reflected as sent.
    /// </summary>
    private async ValueTask RetractOwnAsync(XmlElement retract, Occupant sender)
    {
        if (retract.GetAttribute("id") is not { Length: > 0 } id) throw MucException.Of(StanzaErrorCondition.BadRequest, "A retraction names the message's stanza-id ('id').");
        var archived = await FindArchivedAsync(id).ConfigureAwait(false);
        if ((FindInHistory(id) ?? archived) is not { } original) return; // not known here (older than the history, not archived): reflected all the same
        if (original.Element("occupant-id", MucNs.OccupantId)?.GetAttribute("id") != sender.OccupantId)
            throw MucException.Of(StanzaErrorCondition.Forbidden, "Only its author may retract a message (moderators use XEP-0425).");
        RemoveFromHistory(id);
        if (archived is not null) await TombstoneAsync(id, archived, moderator: null, reason: null).ConfigureAwait(false);
    }

    private static bool HasStanzaId(XmlElement message, string id) => message.Element("stanza-id", MucNs.StanzaId)?.GetAttribute("id") == id;

    private XmlElement? FindInHistory(string stanzaId)
    {
        foreach (var entry in _history)
        {
            if (HasStanzaId(entry.Message, stanzaId)) return entry.Message;
        }
        return null;
    }

    private bool RemoveFromHistory(string stanzaId)
    {
        var found = false;
        var kept = new List<HistoryEntry>(_history.Count);
        foreach (var entry in _history)
        {
            if (!found && HasStanzaId(entry.Message, stanzaId)) found = true;
            else kept.Add(entry);
        }
        if (!found) return false;
        _history.Clear();
        foreach (var entry in kept) _history.Enqueue(entry);
        return true;
    }
}
