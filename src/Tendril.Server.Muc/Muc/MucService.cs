using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Features.Archive;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Muc;

/// <summary>
/// A group chat service (XEP-0045) at its own domain (<c>conference.example.org</c>): its rooms, created on first
/// entrance or read from the store on first use (a service with many persistent rooms starts as fast as with none),
/// and the service's own discovery (§6.1–§6.3) with public rooms paged (XEP-0059).
/// </summary>
public sealed class MucService
{
    private readonly ConcurrentDictionary<string, MucRoom> _rooms = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _loadGate = new(1, 1);
    private readonly Func<XmppServer> _server;
    private readonly Func<Jid, bool> _mayCreate;
    private readonly Func<Jid, bool> _isServerAdmin;
    private ILogger? _logger;
    private Counter<long>? _messages;
    private long _occupants;

    public MucService(Jid jid, MucOptions options, Func<XmppServer> server, Func<Jid, bool> mayCreate, Func<Jid, bool> isServerAdmin)
    {
        Jid = jid;
        JidString = jid.ToString();
        Options = options;
        _server = server;
        _mayCreate = mayCreate;
        _isServerAdmin = isServerAdmin;
    }

    public Jid Jid { get; }

    public string JidString { get; }

    public MucOptions Options { get; }

    public XmppServer Server => _server();

    private ILogger Logger => _logger ??= Server.LoggerFactory.CreateLogger("Tendril.Muc");

    /// <summary>Rooms in memory: every temporary room, and the persistent ones used since the start.</summary>
    public ICollection<MucRoom> Rooms => _rooms.Values;

    public long Occupants => Interlocked.Read(ref _occupants);

    /// <summary>The room of that name in memory (not read from the store).</summary>
    public bool TryGetRoom(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MucRoom? room) => _rooms.TryGetValue(name, out room);

    /// <summary>Writes the rooms' archives off the rooms' path (batched, retried through storage outages, bounded).</summary>
    internal ArchiveWriter? Archive { get; private set; }

    internal void StartArchive(Meter meter)
    {
        Archive = new ArchiveWriter(Server.Storage.Muc.Archive, Options.ArchiveQueueCapacity, Server.LoggerFactory.CreateLogger("Tendril.Muc.Archive"),
            TimeProvider.System, meter, metrics: "tendril.muc.mam");
        if (Options.ArchiveRetentionDays > 0) _ = SweepLoopAsync();
    }

    /// <summary>Deletes the rooms' archived messages older than <c>Muc:ArchiveRetentionDays</c>; returns how many (0 when it is off).</summary>
    public async ValueTask<int> SweepArchiveAsync()
    {
        var days = Options.ArchiveRetentionDays;
        if (days <= 0) return 0;
        if (Archive is { } writer) await writer.WaitWrittenAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
        return await Server.Storage.Muc.Archive.DeleteOlderThanAsync(Server.Time.GetUtcNow().AddDays(-days)).ConfigureAwait(false);
    }

    private async Task SweepLoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), Server.Time);
        while (await timer.WaitForNextTickAsync().ConfigureAwait(false))
        {
            try
            {
                await SweepArchiveAsync().ConfigureAwait(false);
            }
            catch (StorageException e)
            {
                StorageFailed(e, JidString); // tried again at the next hour
            }
        }
    }

    internal void AttachMetrics(Meter meter)
    {
        _messages = meter.CreateCounter<long>("tendril.muc.messages", description: "Groupchat messages reflected to a room's occupants.");
        meter.CreateObservableGauge("tendril.muc.rooms", () => _rooms.Count, description: "Group chat rooms in memory (temporary, and persistent ones in use).");
        meter.CreateObservableGauge("tendril.muc.occupants", () => Occupants, description: "Occupants of group chat rooms.");
    }

    internal void MessageReflected() => _messages?.Add(1);

    internal void OccupantsChanged(int delta) => Interlocked.Add(ref _occupants, delta);

    internal void Remove(MucRoom room) => _rooms.TryRemove(new KeyValuePair<string, MucRoom>(room.Name, room));

    internal void StorageFailed(StorageException e, string room) => Logger.LogError(e, "group chat storage failure for {Room}", room);

    /// <summary>Handles any stanza to the service or one of its rooms (the hosted-domain handler).</summary>
    public async ValueTask HandleStanzaAsync(XmlElement stanza, Jid from, Jid to)
    {
        if (to.Local is null)
        {
            if (stanza.Name == "iq") await ServiceIqAsync(stanza, from, to).ConfigureAwait(false);
            else if (stanza.Name == "message" && stanza.GetAttribute("type") != "error") Server.Router.BounceError(stanza, StanzaErrorCondition.ServiceUnavailable);
            return;
        }
        try
        {
            // An archive query is answered beside the room's stanzas, not in their line: it waits for the archive
            // writer and the store, which must not hold up the room.
            if (stanza.Name == "iq" && to.Resource is null && stanza.FirstElement() is { } payload && payload.Is("query", ArchiveQueries.Namespace))
            {
                if (await FindAsync(to.Local).ConfigureAwait(false) is { } archived) await archived.ArchiveQueryAsync(stanza, payload, from).ConfigureAwait(false);
                else Server.Router.BounceError(stanza, StanzaErrorCondition.ItemNotFound, "No such room.");
                return;
            }
            // A room that went away while the stanza waited for it (destroyed, or emptied) is looked up again.
            for (var attempt = 0; attempt < 4; attempt++)
            {
                var room = await FindAsync(to.Local).ConfigureAwait(false);
                if (room is null)
                {
                    room = await CreateForAsync(stanza, from, to).ConfigureAwait(false);
                    if (room is null) return;
                }
                if (await room.HandleAsync(stanza, from, to).ConfigureAwait(false)) return;
            }
        }
        catch (MucException e)
        {
            Server.Router.BounceError(stanza, e.Error);
        }
        catch (StorageException e)
        {
            StorageFailed(e, to.Bare.ToString());
            Server.Router.BounceError(stanza, new StanzaError(StanzaErrorCondition.InternalServerError, StanzaErrorType.Wait, "The room could not be read; try again."));
        }
    }

    /// <summary>A graceful stop: every room tells its occupants they are removed because the server shuts down (status 332).</summary>
    internal async ValueTask ShutdownAsync()
    {
        foreach (var room in _rooms.Values.ToArray()) await room.ShutdownAsync().ConfigureAwait(false);
    }

    /// <summary>The room in memory, else the persistent room from the store, else null.</summary>
    public async ValueTask<MucRoom?> FindAsync(string name)
    {
        if (_rooms.TryGetValue(name, out var room)) return room;
        await _loadGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_rooms.TryGetValue(name, out room)) return room;
            if (await Server.Storage.Muc.GetRoomAsync(JidString, name).ConfigureAwait(false) is not { } stored) return null;
            room = MucRoom.FromRecord(this, Jid.Create(name, Jid.Domain), stored.Room, stored.Affiliations);
            _rooms[name] = room;
            return room;
        }
        finally
        {
            _loadGate.Release();
        }
    }

    /// <summary>
    /// A stanza for a room that does not exist: an entrance creates it (§10.1) when the user may create rooms; anything
    /// else is answered item-not-found (presence that is not an entrance is dropped).
    /// </summary>
    private async ValueTask<MucRoom?> CreateForAsync(XmlElement stanza, Jid from, Jid to)
    {
        var entering = stanza.Name == "presence" && stanza.GetAttribute("type") is null;
        if (!entering)
        {
            if (stanza.Name != "presence") Server.Router.BounceError(stanza, StanzaErrorCondition.ItemNotFound, "No such room.");
            return null;
        }
        if (to.Resource is null) throw MucException.Of(StanzaErrorCondition.JidMalformed, "Enter a room with a nickname: room@service/nick (XEP-0045 §7.2.1).");
        if (!_mayCreate(from)) throw MucException.Of(StanzaErrorCondition.NotAllowed, "You may not create rooms on this service.");
        await CheckRoomQuotaAsync(from.Bare.ToString(), countTemporary: true).ConfigureAwait(false);
        // An entrance without the MUC element is the old groupchat 1.0 protocol: an instant room, unlocked (§10.1.1).
        var locked = stanza.Element("x", MucNs.Muc) is not null;
        var room = MucRoom.Create(this, to.Bare, from.Bare, locked);
        if (!locked) await room.SaveAsync().ConfigureAwait(false); // an instant room of a persistent default is stored now
        return _rooms.GetOrAdd(room.Name, room);
    }

    /// <summary>
    /// <c>Tendril:Muc:MaxRoomsPerCreator</c>: persistent rooms in the store (and, for a new room, the creator's rooms in
    /// memory); the server's admins are not limited.
    /// </summary>
    internal async ValueTask CheckRoomQuotaAsync(string creator, bool countTemporary = false)
    {
        var max = Options.MaxRoomsPerCreator;
        if (max == 0 || (Jid.TryParse(creator, out var jid) && _isServerAdmin(jid))) return;
        var count = await Server.Storage.Muc.CountRoomsByCreatorAsync(JidString, creator).ConfigureAwait(false);
        if (countTemporary)
        {
            foreach (var room in _rooms.Values)
            {
                if (!room.Stored && room.Creator == creator) count++;
            }
        }
        if (count >= max) throw MucException.Of(StanzaErrorCondition.ResourceConstraint, StanzaErrorType.Cancel, $"You have created {count} rooms here, the most allowed.");
    }

    // ---- the service's own iq (§6.1–§6.3, XEP-0307) --------------------------------------------------------------

    private async ValueTask ServiceIqAsync(XmlElement iq, Jid from, Jid to)
    {
        var type = iq.GetAttribute("type");
        if (type is not ("get" or "set")) return;
        var payload = iq.FirstElement()!;
        XmlElement? result;
        try
        {
            result = (payload.Name, payload.Namespace, type) switch
            {
                ("query", Ns.DiscoInfo, "get") => payload.GetAttribute("node") is null ? DiscoInfo() : throw MucException.Of(StanzaErrorCondition.ItemNotFound),
                ("query", Ns.DiscoItems, "get") => await DiscoItemsAsync(payload).ConfigureAwait(false),
                ("unique", MucNs.Unique, "get") => new XmlElement("unique", MucNs.Unique).Add(UniqueName()),
                ("ping", Ns.Ping, "get") => null,
                _ => throw MucException.Of(StanzaErrorCondition.ServiceUnavailable),
            };
        }
        catch (MucException e)
        {
            Server.Router.BounceError(iq, e.Error);
            return;
        }
        catch (StorageException e)
        {
            StorageFailed(e, JidString);
            Server.Router.BounceError(iq, new StanzaError(StanzaErrorCondition.InternalServerError, StanzaErrorType.Wait));
            return;
        }
        var reply = new XmlElement("iq", Ns.Client).SetAttribute("type", "result").SetAttribute("id", iq.GetAttribute("id") ?? "")
            .SetAttribute("from", to.ToString()).SetAttribute("to", from.ToString());
        if (result is not null) reply.Add(result);
        Server.Router.DeliverFromServer(reply, from);
    }

    private XmlElement DiscoInfo()
    {
        var query = new XmlElement("query", Ns.DiscoInfo);
        query.AddElement("identity").SetAttribute("category", "conference").SetAttribute("type", "text").SetAttribute("name", Options.Name);
        // What the service itself answers; what rooms do (archives, occupant ids, stanza ids, self-ping) each room says
        // in its own disco#info, as XEP-0313, XEP-0421, XEP-0359 and XEP-0410 place it.
        foreach (var feature in (string[])[MucNs.Muc, MucNs.Unique, Ns.DiscoInfo, Ns.DiscoItems, Ns.Ping, Rsm.RsmRequest.Namespace])
        {
            query.AddElement("feature").SetAttribute("var", feature);
        }
        return query;
    }

    /// <summary>
    /// Public rooms (§6.3): the persistent ones from the store and the temporary ones in memory, merged in name order and
    /// paged with RSM (XEP-0059 §2.1 after; default page 100 rooms).
    /// </summary>
    private async ValueTask<XmlElement> DiscoItemsAsync(XmlElement query)
    {
        if (!Rsm.RsmRequest.TryParse(query, out var rsm, out var error)) throw new MucException(error!);
        if (rsm.Before is not null || rsm.Index is not null) throw MucException.Of(StanzaErrorCondition.FeatureNotImplemented, "Page forward with <after/>.");
        var max = Math.Clamp(rsm.Max ?? 100, 0, 500);
        var stored = await Server.Storage.Muc.ListRoomsAsync(JidString, rsm.After, max).ConfigureAwait(false);
        var temporary = _rooms.Values.Where(r => !r.Stored && r.IsPublic && !r.Locked && !r.Gone).ToArray();
        var page = stored.Rooms.Select(r => (r.Name, Title: r.Title ?? r.Name))
            .Concat(temporary.Where(r => rsm.After is null || string.CompareOrdinal(r.Name, rsm.After) > 0).Select(r => (r.Name, r.Title)))
            .Where(r => !_rooms.TryGetValue(r.Name, out var live) || (live.IsPublic && !live.Gone))
            .OrderBy(r => r.Name, StringComparer.Ordinal).Take(max).ToArray();
        var result = new XmlElement("query", Ns.DiscoItems);
        foreach (var (name, title) in page)
        {
            result.AddElement("item").SetAttribute("jid", Jid.Create(name, Jid.Domain).ToString()).SetAttribute("name", title);
        }
        if (rsm.Max is not null || stored.Total + temporary.Length > max)
        {
            // The RSM ids are the room names (what <after/> brings back).
            Rsm.RsmResult.Write(result, page.Length > 0 ? page[0].Name : null, page.Length > 0 ? page[^1].Name : null, stored.Total + temporary.Length,
                rsm.After is null ? 0 : null);
        }
        return result;
    }

    /// <summary>XEP-0307: a room name nobody has (random, 128 bits).</summary>
    private static string UniqueName() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
