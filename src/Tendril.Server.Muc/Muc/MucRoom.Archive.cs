using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Features.Archive;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Muc;

/// <summary>
/// The room's message archive (XEP-0313 §5.1.2 on the room JID): the same query protocol and store shape as accounts'
/// archives (<see cref="ArchiveQueries"/>). Answered beside the room's stanzas, not under its gate.
/// </summary>
public sealed partial class MucRoom
{
    /// <summary>Queries are answered at most this long after the archive writer fell behind (storage failing): then "wait".</summary>
    private static readonly TimeSpan ReadYourWrites = TimeSpan.FromSeconds(15);

    internal async ValueTask ArchiveQueryAsync(XmlElement iq, XmlElement query, Jid from)
    {
        var type = iq.GetAttribute("type");
        if (type is not ("get" or "set")) return;
        var router = Server.Router;
        // Who may read the room's history: not an outcast; in a members-only room a member (or an occupant).
        var affiliation = AffiliationOf(from);
        if (affiliation == MucAffiliation.Outcast || (Config.MembersOnly && affiliation < MucAffiliation.Member && !_bySession.ContainsKey(from)))
        {
            router.BounceError(iq, StanzaErrorCondition.Forbidden, "Only members may read this room's archive.");
            return;
        }
        XmlElement result;
        if (type == "get")
        {
            result = ArchiveQueries.FormQuery();
        }
        else
        {
            if (ArchiveQueries.Parse(query, ArchiveQueries.DefaultPageSize, ArchiveQueries.MaxPageSize, out var error) is not { } parsed)
            {
                router.BounceError(iq, error!);
                return;
            }
            ArchivePage page;
            try
            {
                if (_service.Archive is { } writer && !await writer.WaitWrittenAsync(ReadYourWrites).ConfigureAwait(false))
                {
                    router.BounceError(iq, new StanzaError(StanzaErrorCondition.InternalServerError, StanzaErrorType.Wait, "The archive is behind; try again later."));
                    return;
                }
                page = await Server.Storage.Muc.Archive.QueryAsync(_service.JidString, Name, parsed.Filter).ConfigureAwait(false);
            }
            catch (StorageException e)
            {
                _service.StorageFailed(e, JidString);
                router.BounceError(iq, new StanzaError(StanzaErrorCondition.InternalServerError, StanzaErrorType.Wait, "The archive is unavailable; try again later."));
                return;
            }
            if (page.Status == ArchiveQueryStatus.ItemNotFound)
            {
                router.BounceError(iq, StanzaErrorCondition.ItemNotFound, "No message in the archive has that id.");
                return;
            }
            foreach (var message in ArchiveQueries.Results(page, parsed, JidString, from.ToString())) router.DeliverFromServer(message, from);
            result = ArchiveQueries.Fin(page, parsed);
        }
        var reply = Stanza("iq").SetAttribute("type", "result").SetAttribute("id", iq.GetAttribute("id") ?? "").SetAttribute("from", JidString).SetAttribute("to", from.ToString());
        reply.Add(result);
        router.DeliverFromServer(reply, from);
    }
}
