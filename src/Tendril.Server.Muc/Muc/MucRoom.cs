using System.Security.Cryptography;
using System.Text;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Muc;

/// <summary>One session of an occupant: the client's full JID and the presence it last sent to the room.</summary>
internal sealed class OccupantSession(Jid jid, XmlElement presence)
{
    public Jid Jid { get; } = jid;

    public XmlElement Presence { get; set; } = presence;
}

/// <summary>An occupant (XEP-0045 §5): a nickname in the room, the real bare JID behind it and its sessions.</summary>
internal sealed class Occupant(string nick, Jid realBare, MucRole role, string occupantId)
{
    public string Nick { get; set; } = nick;

    public Jid RealBare { get; } = realBare;

    public MucRole Role { get; set; } = role;

    /// <summary>XEP-0421: the same for the same real bare JID in this room, whatever the nick.</summary>
    public string OccupantId { get; } = occupantId;

    public List<OccupantSession> Sessions { get; } = new(1);

    /// <summary>The presence shown for the occupant: the latest session's.</summary>
    public XmlElement Presence => Sessions[^1].Presence;

    /// <summary>The occupant's message rate (Muc:MessagesPerSecond, ten seconds' worth at once), used under the room's gate.</summary>
    public Security.TokenBucket Rate;
}

/// <summary>An affiliation kept by the room: the bare JID's affiliation, its reserved nick and the reason given.</summary>
internal sealed record AffiliationEntry(MucAffiliation Affiliation, string? Nick, string? Reason);

/// <summary>
/// A room of the group chat service (XEP-0045): its configuration, affiliations, occupants, recent history and subject.
/// Every stanza for the room is handled under the room's gate, one at a time, so every occupant sees the room's events
/// in the same order; what it sends goes straight to the occupants' sessions (a groupchat message is serialized once
/// for all of them).
/// </summary>
/// <remarks>
/// Split by concern: <c>MucRoom.Occupants.cs</c> (presence: entering, leaving, nick changes, §7.2–§7.6, §7.14),
/// <c>MucRoom.Messages.cs</c> (groupchat, subject, private messages, invitations, voice requests, iq to occupants),
/// <c>MucRoom.Admin.cs</c> (roles and affiliations, §8–§9), <c>MucRoom.Owner.cs</c> (configuration, destruction,
/// registration, §7.10, §10), <c>MucRoom.Disco.cs</c> (§6.4 room information).
/// </remarks>
public sealed partial class MucRoom
{
    private readonly MucService _service;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, AffiliationEntry> _affiliations = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Occupant> _byNick = new(StringComparer.Ordinal);
    private readonly Dictionary<Jid, Occupant> _bySession = new();
    private readonly Queue<HistoryEntry> _history = new();
    private readonly List<Jid> _ghosts = [];
    private readonly List<(Jid To, XmlElement Stanza)> _remote = [];
    private bool _justCreated; // the creator's entrance gets status 201 (§10.1.1)

    internal MucRoom(MucService service, Jid jid, RoomConfig config, string creator, DateTimeOffset createdAt)
    {
        _service = service;
        Jid = jid;
        JidString = jid.ToString();
        Config = config;
        Creator = creator;
        CreatedAt = createdAt;
    }

    public Jid Jid { get; }

    public string JidString { get; }

    public string Name => Jid.Local!;

    internal RoomConfig Config { get; private set; }

    public string Creator { get; }

    public DateTimeOffset CreatedAt { get; }

    /// <summary>A new room stays locked (§10.1.1) until its owner configures it or accepts an instant room.</summary>
    public bool Locked { get; private set; }

    /// <summary>The room was destroyed or dropped (empty and temporary): a stanza that waited for it goes to the service again.</summary>
    public bool Gone { get; private set; }

    /// <summary>The room row exists in the store.</summary>
    internal bool Stored { get; set; }

    public string? Subject { get; private set; }

    public string? SubjectBy { get; private set; }

    public DateTimeOffset? SubjectAt { get; private set; }

    public int OccupantCount => _byNick.Count;

    public bool IsPublic => Config.Public;

    public string Title => Config.Name.Length > 0 ? Config.Name : Name;

    private XmppServer Server => _service.Server;

    private sealed record HistoryEntry(XmlElement Message, DateTimeOffset At, int Chars);

    // ---- loading and storing -------------------------------------------------------------------------------------

    internal static MucRoom FromRecord(MucService service, Jid jid, MucRoomRecord record, IReadOnlyList<MucAffiliationRecord> affiliations)
    {
        var room = new MucRoom(service, jid, RoomConfig.FromMap(record.Config, service.Options.MaxHistory), record.Creator, record.CreatedAt)
        {
            Stored = true,
            Subject = record.Subject,
            SubjectBy = record.SubjectBy,
            SubjectAt = record.SubjectAt,
        };
        foreach (var a in affiliations)
        {
            if (MucNames.TryParseAffiliation(a.Affiliation, out var affiliation)) room._affiliations[a.Jid] = new AffiliationEntry(affiliation, a.Nick, a.Reason);
        }
        if (room.Config.OccupantIdSecret.Length == 0) room.Config.OccupantIdSecret = NewSecret();
        return room;
    }

    /// <summary>A room created by <paramref name="creator"/>'s entrance (§10.1): the creator is its owner; locked unless instant.</summary>
    internal static MucRoom Create(MucService service, Jid jid, Jid creator, bool locked)
    {
        var options = service.Options;
        var config = new RoomConfig
        {
            Persistent = options.DefaultPersistent,
            Public = options.DefaultPublic,
            MembersOnly = options.DefaultMembersOnly,
            HistoryLength = options.DefaultHistory,
            Archive = options.DefaultArchive,
            OccupantIdSecret = NewSecret(),
        };
        var room = new MucRoom(service, jid, config, creator.ToString(), service.Server.Time.GetUtcNow()) { Locked = locked, _justCreated = true };
        room._affiliations[creator.ToString()] = new AffiliationEntry(MucAffiliation.Owner, null, null);
        return room;
    }

    private static string NewSecret() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private MucRoomRecord Record() => new(_service.JidString, Name, Config.ToMap(), Config.Public, Config.Name.Length > 0 ? Config.Name : null, Creator, CreatedAt,
        Subject, SubjectBy, SubjectAt);

    private IReadOnlyCollection<MucAffiliationRecord> AffiliationRecords() =>
        _affiliations.Select(p => new MucAffiliationRecord(p.Key, p.Value.Affiliation.Name(), p.Value.Nick, p.Value.Reason)).ToArray();

    /// <summary>Writes the room (and, the first time, its affiliations) when it is persistent; drops the row when it stopped being.</summary>
    internal async ValueTask SaveAsync()
    {
        var store = Server.Storage.Muc;
        if (Config.Persistent)
        {
            await store.SaveRoomAsync(Record()).ConfigureAwait(false);
            if (!Stored)
            {
                await store.SetAffiliationsAsync(_service.JidString, Name, AffiliationRecords()).ConfigureAwait(false);
                Stored = true;
            }
        }
        else if (Stored)
        {
            await store.DeleteRoomAsync(_service.JidString, Name).ConfigureAwait(false);
            Stored = false;
        }
    }

    private async ValueTask SaveAffiliationsAsync(IReadOnlyCollection<MucAffiliationRecord> changes)
    {
        if (Stored && changes.Count > 0) await Server.Storage.Muc.SetAffiliationsAsync(_service.JidString, Name, changes).ConfigureAwait(false);
    }

    // ---- affiliations and roles ----------------------------------------------------------------------------------

    internal MucAffiliation AffiliationOf(Jid jid) =>
        _affiliations.TryGetValue(jid.Bare.ToString(), out var entry) ? entry.Affiliation : MucAffiliation.None;

    private string? ReservedNickOf(Jid bare) => _affiliations.TryGetValue(bare.ToString(), out var entry) ? entry.Nick : null;

    /// <summary>The JID (bare) that reserved <paramref name="nick"/>, if any (§7.10).</summary>
    private string? NickReservedBy(string nick)
    {
        foreach (var (jid, entry) in _affiliations)
        {
            if (entry.Nick == nick) return jid;
        }
        return null;
    }

    /// <summary>The role an occupant gets on entering (§5.1.2).</summary>
    private MucRole DefaultRole(MucAffiliation affiliation) => affiliation switch
    {
        MucAffiliation.Owner or MucAffiliation.Admin => MucRole.Moderator,
        MucAffiliation.Member => MucRole.Participant,
        MucAffiliation.None => Config.Moderated ? MucRole.Visitor : MucRole.Participant,
        _ => MucRole.None,
    };

    internal IEnumerable<string> JidsWith(MucAffiliation affiliation)
    {
        foreach (var (jid, entry) in _affiliations)
        {
            if (entry.Affiliation == affiliation) yield return jid;
        }
    }

    private string OccupantIdOf(Jid realBare)
    {
        var hash = HMACSHA256.HashData(Encoding.UTF8.GetBytes(Config.OccupantIdSecret), Encoding.UTF8.GetBytes(realBare.ToString()));
        return Convert.ToBase64String(hash, 0, 18);
    }

    /// <summary>Whether the room's messages are archived now: asked for, and the room is stored (its archive goes with it).</summary>
    internal bool Archives => Config.Archive && Config.Persistent && _service.Archive is not null;

    /// <summary>Whether <paramref name="viewer"/> may see occupants' real JIDs (§5.1.1: moderators, or everyone in a non-anonymous room).</summary>
    private bool SeesRealJids(Occupant viewer) => Config.WhoisAnyone || viewer.Role == MucRole.Moderator;

    internal Jid OccupantJid(string nick) => Jid.WithResource(nick);

    // ---- handling ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Handles a stanza for the room or one of its occupants. Returns false when the room went away while the stanza
    /// waited for it (the service then hands it to whatever room has that name now).
    /// </summary>
    internal async ValueTask<bool> HandleAsync(XmlElement stanza, Jid from, Jid to)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (Gone) return false;
            try
            {
                switch (stanza.Name)
                {
                    case "presence":
                        await HandlePresenceAsync(stanza, from, to).ConfigureAwait(false);
                        break;
                    case "message":
                        await HandleMessageAsync(stanza, from, to).ConfigureAwait(false);
                        break;
                    case "iq":
                        await HandleIqAsync(stanza, from, to).ConfigureAwait(false);
                        break;
                }
            }
            catch (MucException e)
            {
                Server.Router.BounceError(stanza, e.Error);
            }
            catch (StorageException e)
            {
                _service.StorageFailed(e, JidString);
                Server.Router.BounceError(stanza, new StanzaError(StanzaErrorCondition.InternalServerError, StanzaErrorType.Wait, "The room could not be saved; try again."));
            }
            await FlushAsync().ConfigureAwait(false);
            if (_byNick.Count == 0 && !Config.Persistent && !Gone) Drop();
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Takes the room out of the service (temporary and empty, or destroyed).</summary>
    private void Drop()
    {
        Gone = true;
        _service.Remove(this);
    }

    // ---- sending -------------------------------------------------------------------------------------------------

    /// <summary>
    /// Queues <paramref name="stanza"/> (its 'from' set, no 'to') to a real JID. Local sessions get it at once; a session
    /// that is gone is remembered and removed from the room after this stanza (XEP-0045 status 333); other domains are
    /// sent to after this stanza, in order.
    /// </summary>
    private void SendTo(Jid to, SerializedStanza stanza)
    {
        if (to.Domain == Server.Domain)
        {
            if (Server.Delivery.Find(to) is { } resource) Server.Delivery.TryDeliver(resource, stanza);
            else if (to.Resource is not null && _bySession.ContainsKey(to)) _ghosts.Add(to);
            return;
        }
        _remote.Add((to, stanza.Element));
    }

    private void SendTo(Jid to, XmlElement stanza) => SendTo(to, new SerializedStanza(stanza));

    /// <summary>A stanza serialized once, to every session of every occupant (or of those <paramref name="to"/> picks).</summary>
    private void SendToOccupants(XmlElement stanza, Func<Occupant, bool>? to = null)
    {
        var serialized = new SerializedStanza(stanza);
        foreach (var occupant in _byNick.Values)
        {
            if (to is not null && !to(occupant)) continue;
            foreach (var s in occupant.Sessions) SendTo(s.Jid, serialized);
        }
    }

    /// <summary>A message or presence from the room itself (no nick) to a bare or full JID, through the router (offline storage for a bare JID).</summary>
    private ValueTask SendFromRoomAsync(XmlElement stanza, Jid to)
    {
        stanza.SetAttribute("from", JidString).SetAttribute("to", to.ToString());
        return Server.Router.RouteAsync(stanza, Jid, to);
    }

    private async ValueTask FlushAsync()
    {
        if (_pendingNotices.Count > 0)
        {
            var notices = _pendingNotices.ToArray();
            _pendingNotices.Clear();
            foreach (var (message, to) in notices) await Server.Router.RouteAsync(message, Jid, to).ConfigureAwait(false);
        }
        while (_remote.Count > 0)
        {
            var batch = _remote.ToArray();
            _remote.Clear();
            foreach (var (to, element) in batch)
            {
                var copy = element.CloneShallow().SetAttribute("to", to.ToString());
                var from = Jid.TryParse(copy.GetAttribute("from"), out var f) ? f : Jid;
                await Server.Delivery.ToOtherDomainAsync(copy, from, to, null).ConfigureAwait(false);
            }
        }
        while (_ghosts.Count > 0)
        {
            var ghosts = _ghosts.Distinct().ToArray();
            _ghosts.Clear();
            foreach (var ghost in ghosts) RemoveSession(ghost, MucStatus.Error, null);
        }
    }

    private static XmlElement Stanza(string name) => new(name, Ns.Client);
}
