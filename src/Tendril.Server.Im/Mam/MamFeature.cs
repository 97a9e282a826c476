using Tendril.Server.Features;
using Tendril.Server.Configuration;
using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Features.Rsm;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Server.Features.Archive;
using Tendril.Xml;

namespace Tendril.Server.Features.Mam;

/// <summary>
/// Message Archive Management (XEP-0313, urn:xmpp:mam:2) for user archives, with XEP-0059 paging and the
/// XEP-0359 stanza id.
/// <list type="bullet">
/// <item>Archiving runs in the stanza filters: a chat or normal message with a body, without an XEP-0334
/// &lt;no-store/&gt; or &lt;no-permanent-store/&gt; hint, is appended once to the sender's archive (outbound filter,
/// when the sender is local) and once to the recipient's (inbound filter, when the recipient is local), each as the
/// owner's preferences allow. The recipient's copy gets &lt;stanza-id by='user@domain' id='archive id'/&gt;; stanza
/// ids a client put in claiming to be by a local entity are removed first (XEP-0359 §4).</item>
/// <item>Queries (§4): form fields with, start, end, before-id, after-id and ids (#extended), RSM max/after/before
/// (empty before: the last page), &lt;flip-page/&gt; (the page's results are sent in reverse order; first/last keep
/// their RSM meaning). A max above <c>Mam:MaxPageSize</c> is reduced to it; more ids than that is policy-violation.
/// The &lt;set/&gt; is read and written by <see cref="RsmRequest"/>/<see cref="RsmResult"/>, as in pubsub.</item>
/// <item>Preferences (§6): default always/never/roster and always/never JID lists.</item>
/// </list>
/// </summary>
public sealed class MamFeature : IServerFeature, IStoppableFeature
{
    public const string Namespace = ArchiveQueries.Namespace;
    public const string ExtendedFeature = "urn:xmpp:mam:2#extended";
    public const string StanzaIdNamespace = "urn:xmpp:sid:0";
    public const string RsmNamespace = RsmRequest.Namespace;
    public const string ForwardNamespace = ArchiveQueries.ForwardNamespace;
    public const string HintsNamespace = "urn:xmpp:hints";

    private XmppServer _server = null!;
    private RosterQueries _roster = null!;
    private ILogger _logger = null!;
    private ArchiveWriter? _writer;
    private readonly ConcurrentDictionary<string, ArchivePreferences> _preferences = new(StringComparer.Ordinal);
    private long _preferencesEpoch; // bumped by every invalidation from another node

    public void Register(FeatureRegistry registry)
    {
        _server = registry.Server;
        if (!_server.Options.Mam.Enabled) return;
        _roster = new RosterQueries(_server.Storage);
        _logger = _server.LoggerFactory.CreateLogger("Tendril.Mam");
        var options = _server.Options.Mam;
        // The writer's backoff and bounded waits wait on storage, in real time: a test's hand-moved clock (which never
        // fires timers) must not freeze them — it did, and a disposed server then waited for its writer forever.
        _writer = new ArchiveWriter(_server.Storage.Archive, options.WriteQueueCapacity, _logger, TimeProvider.System, _server.Metrics.Meter);
        if (options.WriteAttempts is { } attempts)
        {
            _logger.LogWarning("Tendril:Mam:WriteAttempts ({Attempts}) is obsolete and ignored: the archive writer retries while storage is unavailable, without limit, and Tendril:Mam:WriteQueueCapacity bounds what it holds; remove the setting",
                attempts);
        }
        registry.AddDiscoFeature(Namespace, IqTarget.Account);
        registry.AddDiscoFeature(ExtendedFeature, IqTarget.Account);
        registry.AddDiscoFeature(StanzaIdNamespace, IqTarget.Account);
        registry.HandleIq("query", Namespace, QueryAsync, IqTarget.Account);
        registry.HandleIq("prefs", Namespace, PreferencesAsync, IqTarget.Account);
        registry.HandleIq("metadata", Namespace, MetadataAsync, IqTarget.Account);
        registry.AddOutboundFilter(StanzaKinds.Message, StanzaStage.Archive, ArchiveSentAsync);
        registry.AddInboundFilter(StanzaKinds.Message, StanzaStage.Archive, ArchiveReceivedAsync);
        registry.StanzaBounced += DiscardPending;
        registry.OnMessageRouted(QueuePendingAsync);
        if (_server.Options.Mam.RetentionDays > 0) _ = SweepLoopAsync();
        _server.Cluster.OnAccountEvent(PreferencesEvent, (_, payload) =>
        {
            if (payload.GetAttribute("jid") is { } owner) DropPreferences(owner);
            return ValueTask.CompletedTask;
        });
        _server.Cluster.EventsMissed += () => DropPreferences(null);
    }

    // Any node archives for any account (the entering node decides, docs/cluster.md), so any node may hold a copy of an
    // account's preferences: a change goes to every node, which drops its copy and reads the store on next use.
    private const string PreferencesEvent = "mam-prefs-changed";
    private const string ClusterNamespace = "urn:tendril:cluster:mam";

    /// <summary>Another node changed <paramref name="owner"/>'s preferences (null: perhaps anyone's): the copy here goes.</summary>
    private void DropPreferences(string? owner)
    {
        Interlocked.Increment(ref _preferencesEpoch); // a store read in flight must not put the old copy back
        if (owner is null) _preferences.Clear();
        else _preferences.TryRemove(owner, out _);
    }

    // ---- archiving ------------------------------------------------------------------------------------------------

    /// <summary>XEP-0313 §5.1.1 (and what Prosody and ejabberd do): chat or normal messages with a body, unless hinted away.</summary>
    private static bool IsArchivable(XmlElement message)
    {
        var type = message.GetAttribute("type") ?? "normal";
        return type is "chat" or "normal"
            && message.Element("body") is not null
            && message.Element("no-store", HintsNamespace) is null
            && message.Element("no-permanent-store", HintsNamespace) is null;
    }

    // A message's archive records are made in the filters (the id and stamp in stanza order, the recipient's id in the
    // delivered stanza) and queued once the router is done with it — unless it bounced. Issue 18: the sender's archive
    // listed every message to an offline contact whose storage refused them (internal-server-error), so a client syncing
    // its archive showed as sent what its user had been told failed. XEP-0313 says nothing explicit about errors; we
    // archive what the server accepted: a message answered with an error to its sender (storage refused it, a filter
    // could not decide, no such user, the recipient's queue full) is in neither archive, as the sender was told. An
    // error that comes back later (another domain's answer, a node that died with it) does not unarchive it.
    private readonly ConcurrentDictionary<XmlElement, Pending> _pending = new(ReferenceEqualityComparer.Instance);

    /// <summary>The records of one message waiting for its routing to end: the sender's, the recipient's.</summary>
    private sealed class Pending
    {
        public ArchiveAppend? Sent;
        public ArchiveAppend? Received;

        /// <summary>The &lt;stanza-id/&gt; stamped in the recipient's name for <see cref="Received"/>.</summary>
        public XmlElement? ReceivedStamp;
    }

    private async ValueTask<StanzaFilterResult> ArchiveSentAsync(C2sSession origin, XmlElement stanza, Jid? to)
    {
        if (stanza.Name != "message") return StanzaFilterResult.Continue;
        RemoveStanzaIds(stanza, null);
        // To the sender's own account: archived once, on the receiving side.
        if (to is null || BareJidComparer.Instance.Equals(to, origin.Jid) || !IsArchivable(stanza)) return StanzaFilterResult.Continue;
        if (await PrepareAsync(origin.Jid.Bare, to, ArchiveDirection.Outgoing, stanza).ConfigureAwait(false) is { } record)
        {
            _pending.GetOrAdd(stanza, static _ => new Pending()).Sent = record;
        }
        return StanzaFilterResult.Continue;
    }

    private async ValueTask<StanzaFilterResult> ArchiveReceivedAsync(XmlElement stanza, Jid from, Jid to)
    {
        if (stanza.Name != "message" || to.Local is null) return StanzaFilterResult.Continue;
        var owner = to.Bare;
        RemoveStanzaIds(stanza, owner);
        if (!IsArchivable(stanza)) return StanzaFilterResult.Continue;
        if (await PrepareAsync(owner, from, ArchiveDirection.Incoming, stanza).ConfigureAwait(false) is { } record)
        {
            // A recipient with a session here gets it live: queued now, before the delivery, so a query it sends after
            // reading the message finds it (read-your-writes). Otherwise it goes offline, where storage may refuse it:
            // queued when routing ends, unless it bounced.
            var stamp = stanza.AddElement("stanza-id", StanzaIdNamespace).SetAttribute("by", owner.ToString()).SetAttribute("id", record.Message.Id);
            if (_server.Delivery.IsBoundHere(owner)) await EnqueueAsync(record).ConfigureAwait(false);
            else
            {
                var pending = _pending.GetOrAdd(stanza, static _ => new Pending());
                pending.Received = record;
                pending.ReceivedStamp = stamp;
            }
        }
        return StanzaFilterResult.Continue;
    }

    /// <summary>The router answered the message with an error: what the filters prepared for it is not archived.</summary>
    private void DiscardPending(XmlElement stanza)
    {
        if (_pending.IsEmpty || stanza.Name != "message" || !_pending.TryRemove(stanza, out var pending)) return;
        // XEP-0359 §3: only the entity that archived a stanza stamps it. The recipient's archive will not hold it (no
        // such account, offline store refused), so the error going back to the sender carries no stanza-id in its name.
        if (pending.ReceivedStamp is { } stamp) stanza.Remove(stamp);
    }

    /// <summary>The router is done with the message and did not bounce it: its records go to the writer (sender's first).</summary>
    private async ValueTask QueuePendingAsync(XmlElement stanza)
    {
        if (_pending.IsEmpty || !_pending.TryRemove(stanza, out var pending)) return;
        if (pending.Sent is { } sent) await EnqueueAsync(sent).ConfigureAwait(false);
        if (pending.Received is { } received) await EnqueueAsync(received).ConfigureAwait(false);
    }

    /// <summary>Removes stanza ids claiming to be by <paramref name="owner"/> (or, when null, by any entity of this domain).</summary>
    private void RemoveStanzaIds(XmlElement stanza, Jid? owner)
    {
        List<XmlElement>? remove = null;
        foreach (var sid in stanza.Elements("stanza-id", StanzaIdNamespace))
        {
            var by = sid.GetAttribute("by");
            var ours = by is null || !Jid.TryParse(by, out var byJid) || byJid is null
                || (owner is null ? byJid.Domain == _server.Domain : BareJidComparer.Instance.Equals(byJid, owner) || byJid.ToString() == _server.Domain);
            if (ours) (remove ??= []).Add(sid);
        }
        if (remove is null) return;
        foreach (var sid in remove) stanza.Remove(sid);
    }

    /// <summary>
    /// Makes one record for <paramref name="owner"/>'s archive when the preferences allow (or null). The id and stamp
    /// are assigned here, in stanza order; the record is queued when routing ends (<see cref="QueuePendingAsync"/>) and
    /// written in the background (<see cref="ArchiveWriter"/>).
    /// </summary>
    private async ValueTask<ArchiveAppend?> PrepareAsync(Jid owner, Jid with, ArchiveDirection direction, XmlElement stanza)
    {
        try
        {
            if (!await ShouldArchiveAsync(owner, with).ConfigureAwait(false)) return null;
        }
        catch (StorageException e)
        {
            // The preferences (or the roster, for 'roster') cannot be read: whether the owner wants this archived is
            // unknown, and archiving against a 'never' (XEP-0313 §6) is not ours to risk. The message still goes on —
            // losing an archive copy is better than losing the message — but not silently: counted
            // (tendril.mam.dropped, reason=preferences) and logged as part of the storage outage, not per stanza.
            _writer!.NotArchived(ArchiveWriter.ReasonPreferences);
            _server.StorageOutage.Refusal($"archive preferences of {owner} could not be read (a message was delivered but not archived)", e);
            return null;
        }
        var record = new ArchivedMessage(NewId(), _server.Time.GetUtcNow(), with.ToString(), direction, StoredStanza.Serialize(stanza));
        return new ArchiveAppend(owner.Domain, owner.Local!, record);
    }

    /// <summary>Queues a record; waits only when the write queue is full (back-pressure on the sender's stream).</summary>
    private async ValueTask EnqueueAsync(ArchiveAppend record)
    {
        try
        {
            await _writer!.EnqueueAsync(record).ConfigureAwait(false);
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            // The server is stopping and the writer stopped (after every stream ended, so rarely): said, not silent.
            _writer!.NotArchived(ArchiveWriter.ReasonStopped);
            _logger.LogWarning("A message for {Owner}@{Domain} was delivered after the archive writer stopped; it is not archived", record.Username, record.Domain);
        }
    }

    /// <summary>How long a query waits for the messages archived before it to be written (read-your-writes).</summary>
    public static readonly TimeSpan ReadYourWritesTimeout = TimeSpan.FromSeconds(15);


    /// <summary>Read-your-writes: waits (bounded) until everything archived before this call is in storage; false on timeout.</summary>
    public ValueTask<bool> FlushAsync() => _writer?.WaitWrittenAsync(ReadYourWritesTimeout) ?? ValueTask.FromResult(true);

    /// <summary>
    /// Writes what is queued and stops the writer (graceful stop, after the streams ended, before storage closes),
    /// bounded by <c>Tendril:Limits:DrainSeconds</c> like the rest of the stop: during a storage outage what is still
    /// queued then is logged with its count, not waited for.
    /// </summary>
    public Task StopAsync() => _writer?.StopAsync(_server.DrainTimeout) ?? Task.CompletedTask;

    private async ValueTask<bool> ShouldArchiveAsync(Jid owner, Jid with)
    {
        var prefs = await GetPreferencesAsync(owner).ConfigureAwait(false);
        var other = with.Bare.ToString();
        if (prefs.Never.Contains(other, StringComparer.Ordinal)) return false;
        if (prefs.Always.Contains(other, StringComparer.Ordinal)) return true;
        return prefs.Default switch
        {
            ArchiveDefault.Always => true,
            ArchiveDefault.Never => false,
            _ => await _roster.FindItemAsync(owner, with).ConfigureAwait(false) is not null,
        };
    }

    private async ValueTask<ArchivePreferences> GetPreferencesAsync(Jid owner)
    {
        var key = owner.ToString();
        if (_preferences.TryGetValue(key, out var cached)) return cached;
        var epoch = Interlocked.Read(ref _preferencesEpoch);
        var prefs = await _server.Storage.Archive.GetPreferencesAsync(owner.Domain, owner.Local!).ConfigureAwait(false) ?? ArchivePreferences.Initial;
        _server.StorageOutage.Succeeded();
        if (_preferences.Count > 100_000) _preferences.Clear(); // a bound, not an LRU: misses only cost a read
        // Fill only when empty: a preferences set that raced with this read stored newer ones, which must win.
        var kept = _preferences.GetOrAdd(key, prefs);
        // Another node's change may have been announced while the store was read (its removal found nothing to remove):
        // then this copy may be the old one and must not stay.
        if (Interlocked.Read(ref _preferencesEpoch) != epoch) _preferences.TryRemove(new KeyValuePair<string, ArchivePreferences>(key, prefs));
        return kept;
    }

    /// <summary>A server-generated archive id: unique, stable, opaque (time-ordered UUIDv7, hex).</summary>
    private string NewId() => Guid.CreateVersion7(_server.Time.GetUtcNow()).ToString("N");

    // ---- queries --------------------------------------------------------------------------------------------------

    private async ValueTask QueryAsync(IqRequest request)
    {
        if (!BareJidComparer.Instance.Equals(request.To, request.From))
        {
            request.ReplyError(StanzaErrorCondition.Forbidden, "Only the owner may query this archive.");
            return;
        }
        var query = request.Payload;
        if (request.IsGet)
        {
            request.Reply(ArchiveQueries.FormQuery()); // §4.1.4 (retrieving form fields)
            return;
        }
        var options = _server.Options.Mam;
        if (ArchiveQueries.Parse(query, options.DefaultPageSize, options.MaxPageSize, out var error) is not { } parsed)
        {
            request.ReplyError(error!);
            return;
        }

        var owner = request.To;
        ArchivePage page;
        try
        {
            // Every message archived before the query is in the answer; if the writer is behind for longer than the
            // bound (storage failing), say "wait" rather than answer with a gap a client would never fill again.
            if (!await FlushAsync().ConfigureAwait(false))
            {
                request.ReplyError(new StanzaError(StanzaErrorCondition.InternalServerError, StanzaErrorType.Wait, "The archive is behind; try again later."));
                return;
            }
            page = await _server.Storage.Archive.QueryAsync(owner.Domain, owner.Local!, parsed.Filter).ConfigureAwait(false);
        }
        catch (StorageException)
        {
            request.ReplyError(new StanzaError(StanzaErrorCondition.InternalServerError, StanzaErrorType.Wait, "The archive is unavailable; try again later."));
            return;
        }
        if (page.Status == ArchiveQueryStatus.ItemNotFound)
        {
            request.ReplyError(StanzaErrorCondition.ItemNotFound, "No message in the archive has that id.");
            return;
        }
        foreach (var message in ArchiveQueries.Results(page, parsed, owner.ToString(), request.From.ToString())) Deliver(request, message);
        request.Reply(ArchiveQueries.Fin(page, parsed));
    }

    /// <summary>
    /// XEP-0313 §7 (#extended) archive metadata: the first and last archived message (id and timestamp) so a client
    /// knows where to page from; an empty archive answers an empty &lt;metadata/&gt;.
    /// </summary>
    private async ValueTask MetadataAsync(IqRequest request)
    {
        if (!BareJidComparer.Instance.Equals(request.To, request.From))
        {
            request.ReplyError(StanzaErrorCondition.Forbidden, "Only the owner may query this archive.");
            return;
        }
        if (!request.IsGet)
        {
            request.ReplyError(StanzaErrorCondition.BadRequest, "Archive metadata is read with an iq get.");
            return;
        }
        var owner = request.To;
        ArchivePage first, last;
        try
        {
            if (!await FlushAsync().ConfigureAwait(false))
            {
                request.ReplyError(new StanzaError(StanzaErrorCondition.InternalServerError, StanzaErrorType.Wait, "The archive is behind; try again later."));
                return;
            }
            first = await _server.Storage.Archive.QueryAsync(owner.Domain, owner.Local!, new ArchiveQuery { Max = 1 }).ConfigureAwait(false);
            last = await _server.Storage.Archive.QueryAsync(owner.Domain, owner.Local!, new ArchiveQuery { Max = 1, Before = "" }).ConfigureAwait(false);
        }
        catch (StorageException)
        {
            request.ReplyError(new StanzaError(StanzaErrorCondition.InternalServerError, StanzaErrorType.Wait, "The archive is unavailable; try again later."));
            return;
        }
        var metadata = new XmlElement("metadata", Namespace);
        if (first.Items.Count > 0 && last.Items.Count > 0)
        {
            metadata.AddElement("start", Namespace).SetAttribute("id", first.Items[0].Id).SetAttribute("timestamp", XmppDateTime.Format(first.Items[0].Timestamp));
            metadata.AddElement("end", Namespace).SetAttribute("id", last.Items[^1].Id).SetAttribute("timestamp", XmppDateTime.Format(last.Items[^1].Timestamp));
        }
        request.Reply(metadata);
    }

    private void Deliver(IqRequest request, XmlElement message)
    {
        if (request.Origin is { } origin) origin.TryDeliver(message);
        else _server.Router.DeliverFromServer(message, request.From);
    }

    // ---- preferences ----------------------------------------------------------------------------------------------

    private async ValueTask PreferencesAsync(IqRequest request)
    {
        if (!BareJidComparer.Instance.Equals(request.To, request.From))
        {
            request.ReplyError(StanzaErrorCondition.Forbidden, "Only the owner may see or change these preferences.");
            return;
        }
        var owner = request.To;
        if (request.IsSet)
        {
            var payload = request.Payload;
            ArchiveDefault mode;
            switch (payload.GetAttribute("default"))
            {
                case "always": mode = ArchiveDefault.Always; break;
                case "never": mode = ArchiveDefault.Never; break;
                case "roster": mode = ArchiveDefault.Roster; break;
                default:
                    request.ReplyError(StanzaErrorCondition.BadRequest, "'default' must be always, never or roster.");
                    return;
            }
            if (!TryReadJids(payload.Element("always", Namespace), out var always) || !TryReadJids(payload.Element("never", Namespace), out var never))
            {
                request.ReplyError(StanzaErrorCondition.JidMalformed);
                return;
            }
            var prefs = new ArchivePreferences(mode, always, never);
            try
            {
                await _server.Storage.Archive.SetPreferencesAsync(owner.Domain, owner.Local!, prefs).ConfigureAwait(false);
            }
            catch (StorageException)
            {
                request.ReplyError(new StanzaError(StanzaErrorCondition.InternalServerError, StanzaErrorType.Wait));
                return;
            }
            _preferences[owner.ToString()] = prefs;
            _server.Cluster.SendClusterEvent(PreferencesEvent, new XmlElement("prefs", ClusterNamespace).SetAttribute("jid", owner.ToString()));
            request.Reply(PreferencesElement(prefs));
            return;
        }
        request.Reply(PreferencesElement(await GetPreferencesAsync(owner).ConfigureAwait(false)));
    }

    private static bool TryReadJids(XmlElement? list, out List<string> jids)
    {
        jids = [];
        if (list is null) return true;
        foreach (var j in list.Elements("jid", Namespace))
        {
            if (!Jid.TryParse(j.Text, out var jid) || jid is null) return false;
            var bare = jid.Bare.ToString();
            if (!jids.Contains(bare, StringComparer.Ordinal)) jids.Add(bare);
        }
        return true;
    }

    private static XmlElement PreferencesElement(ArchivePreferences prefs)
    {
        var element = new XmlElement("prefs", Namespace).SetAttribute("default", prefs.Default switch
        {
            ArchiveDefault.Always => "always",
            ArchiveDefault.Never => "never",
            _ => "roster",
        });
        var always = element.AddElement("always", Namespace);
        foreach (var j in prefs.Always) always.AddElement("jid", Namespace).Add(j);
        var never = element.AddElement("never", Namespace);
        foreach (var j in prefs.Never) never.AddElement("jid", Namespace).Add(j);
        return element;
    }

    // ---- retention ------------------------------------------------------------------------------------------------

    /// <summary>Deletes messages older than <c>Mam:RetentionDays</c> now; returns how many (0 when retention is off).</summary>
    public async ValueTask<int> SweepAsync()
    {
        var days = _server.Options.Mam.RetentionDays;
        if (days <= 0) return 0;
        await FlushAsync().ConfigureAwait(false);
        return await _server.Storage.Archive.DeleteOlderThanAsync(_server.Time.GetUtcNow().AddDays(-days)).ConfigureAwait(false);
    }

    private async Task SweepLoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1), _server.Time);
        while (await timer.WaitForNextTickAsync().ConfigureAwait(false))
        {
            try
            {
                await SweepAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return; // the storage was closed: the server stopped
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "The archive retention sweep failed");
            }
        }
    }
}
