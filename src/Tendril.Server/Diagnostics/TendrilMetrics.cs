using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Tendril.Server.Diagnostics;

/// <summary>
/// The server's instruments on one <see cref="Meter"/> named <c>Tendril</c> (one per <see cref="XmppServer"/>, so
/// in-process test servers do not mix their numbers). The hot-path methods allocate nothing: tags are cached
/// <see cref="KeyValuePair{TKey, TValue}"/>s with string values and the single/two-tag <c>Add</c> overloads take no array.
/// Everything that is a level rather than an event (connections, sessions, queue depths, memory) is observed at
/// collection time instead of being maintained on the hot path.
/// </summary>
public sealed class TendrilMetrics : IDisposable
{
    public const string MeterName = "Tendril";

    private static readonly KeyValuePair<string, object?> KindMessage = new("kind", "message");
    private static readonly KeyValuePair<string, object?> KindPresence = new("kind", "presence");
    private static readonly KeyValuePair<string, object?> KindIq = new("kind", "iq");

    private readonly Counter<long> _stanzasIn;
    private readonly Counter<long> _stanzasOut;
    private readonly Counter<long> _connectionsAccepted;
    private readonly Counter<long> _authSuccesses;
    private readonly Counter<long> _authFailures;
    private readonly Counter<long> _connectionsRefused;
    private readonly Counter<long> _outputPaused;
    private readonly Counter<long> _outputRefused;
    private readonly Counter<long> _inputShaped;
    private readonly Counter<long> _rateLimited;

    public TendrilMetrics(XmppServer server)
    {
        Meter = new Meter(MeterName);
        var started = Stopwatch.GetTimestamp();
        _stanzasIn = Meter.CreateCounter<long>("tendril.stanzas.in", description: "Stanzas received from bound clients, by kind.");
        _stanzasOut = Meter.CreateCounter<long>("tendril.stanzas.out", description: "Stanzas written to clients, by kind.");
        _connectionsAccepted = Meter.CreateCounter<long>("tendril.connections.accepted", description: "Client connections accepted, by listener and transport.");
        _authSuccesses = Meter.CreateCounter<long>("tendril.auth.successes", description: "Successful SASL authentications, by mechanism.");
        _authFailures = Meter.CreateCounter<long>("tendril.auth.failures", description: "Failed SASL authentications, by mechanism and condition.");
        _connectionsRefused = Meter.CreateCounter<long>("tendril.connections.refused", description: "Connections refused over the connection limits, by listener and reason (total, unauthenticated, address).");
        _outputPaused = Meter.CreateCounter<long>("tendril.output.paused", description: "Times a client's input stopped being read because its unread output passed Tendril:Limits:OutputBudgetBytes.");
        _inputShaped = Meter.CreateCounter<long>("tendril.input.shaped", description: "Times a client's input was read later because it sent faster than Tendril:Limits:ReadBytesPerSecond.");
        _rateLimited = Meter.CreateCounter<long>("tendril.stanzas.rate_limited", description: "Stanzas answered with policy-violation because their session sent faster than Tendril:Limits:StanzasPerSecond or PresencePerSecond (kind: message, iq, presence).");
        _outputRefused = Meter.CreateCounter<long>("tendril.output.refused", description: "Stanzas routed to a client refused (bounced with resource-constraint) over its queue's stanza or byte limit.");
        Meter.CreateObservableGauge("tendril.connections.open", () => server.Connections.Open, description: "Open connections counted against Tendril:Limits:MaxConnections (all listeners and HTTP).");
        Meter.CreateObservableGauge("tendril.connections.unauthenticated", () => server.Connections.Unauthenticated, description: "Streams that have not authenticated yet.");
        Meter.CreateObservableGauge("tendril.connections.limit", () => server.Connections.Limits.MaxConnections, description: "Tendril:Limits:MaxConnections in force.");
        Meter.CreateObservableGauge("tendril.connections", () => ObserveConnections(server), description: "Open client connections, by listener and transport.");
        Meter.CreateObservableGauge("tendril.sessions", () => server.Sessions.Count, description: "Bound client sessions (resources).");
        Meter.CreateObservableGauge("tendril.outbound.queue.depth", () => QueueDepths(server).Total, description: "Stanzas waiting in all outbound queues.");
        Meter.CreateObservableGauge("tendril.outbound.queue.depth.max", () => QueueDepths(server).Max, description: "The deepest single outbound queue.");
        Meter.CreateObservableGauge("tendril.outbound.queue.bytes", () => QueueDepths(server).Bytes, description: "Bytes (estimated) waiting in all outbound queues.");
        Meter.CreateObservableGauge("tendril.outbound.queue.bytes.max", () => QueueDepths(server).MaxBytes, description: "Bytes (estimated) in the fullest single outbound queue.");
        Meter.CreateObservableGauge("tendril.uptime.seconds", () => Stopwatch.GetElapsedTime(started).TotalSeconds, description: "Seconds since the server started.");
        Meter.CreateObservableGauge("tendril.gc.heap.bytes", () => GC.GetTotalMemory(forceFullCollection: false), description: "Bytes currently thought to be allocated on the managed heap.");
        Meter.CreateObservableCounter("tendril.gc.allocated.bytes", () => GC.GetTotalAllocatedBytes(), description: "Bytes allocated on the managed heap since start.");
        Meter.CreateObservableCounter("tendril.gc.collections", ObserveCollections, description: "Garbage collections, by generation.");
        Meter.CreateObservableGauge("tendril.process.working_set.bytes", () => Environment.WorkingSet, description: "Resident set size (working set) of the process, in bytes.");
    }

    public Meter Meter { get; }

    /// <summary>A stanza arrived from a bound client (called once per stanza).</summary>
    public void StanzaIn(string name)
    {
        if (!_stanzasIn.Enabled) return;
        if (Kind(name) is { } tag) _stanzasIn.Add(1, tag);
    }

    /// <summary>A stanza was written to a client; non-stanza elements (negotiation) are ignored.</summary>
    public void StanzaOut(string name)
    {
        if (!_stanzasOut.Enabled) return;
        if (Kind(name) is { } tag) _stanzasOut.Add(1, tag);
    }

    public void ConnectionAccepted(string listener, string transport) =>
        _connectionsAccepted.Add(1, new KeyValuePair<string, object?>("listener", listener), new KeyValuePair<string, object?>("transport", transport));

    private static readonly KeyValuePair<string, object?> ReasonTotal = new("reason", "total");
    private static readonly KeyValuePair<string, object?> ReasonUnauthenticated = new("reason", "unauthenticated");
    private static readonly KeyValuePair<string, object?> ReasonAddress = new("reason", "address");

    /// <summary>A connection was refused over a limit (no allocation: the labels are fixed strings).</summary>
    public void ConnectionRefused(Transport.ConnectionRefusal refusal, string listener) =>
        _connectionsRefused.Add(1, new KeyValuePair<string, object?>("listener", listener), refusal switch
        {
            Transport.ConnectionRefusal.Address => ReasonAddress,
            Transport.ConnectionRefusal.Unauthenticated => ReasonUnauthenticated,
            _ => ReasonTotal,
        });

    public void AuthSucceeded(string mechanism) => _authSuccesses.Add(1, new KeyValuePair<string, object?>("mechanism", Mechanism(mechanism)));

    public void AuthFailed(string mechanism, string condition) =>
        _authFailures.Add(1, new KeyValuePair<string, object?>("mechanism", Mechanism(mechanism)), new KeyValuePair<string, object?>("condition", condition));

    private static KeyValuePair<string, object?>? Kind(string name) => name switch
    {
        "message" => KindMessage,
        "presence" => KindPresence,
        "iq" => KindIq,
        _ => null,
    };

    /// <summary>Mechanism names come from clients: anything unknown is "other" so the label set stays bounded.</summary>
    private static string Mechanism(string mechanism) => mechanism switch
    {
        "SCRAM-SHA-256" or "SCRAM-SHA-1" or "PLAIN" or "http-basic" => mechanism,
        _ => "other",
    };

    private static IEnumerable<Measurement<int>> ObserveConnections(XmppServer server)
    {
        var counts = new Dictionary<(string, string), int>();
        foreach (var stream in server.Heartbeat.Streams)
        {
            var key = (stream.Listener, stream.TransportName);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        foreach (var ((listener, transport), count) in counts)
        {
            yield return new Measurement<int>(count, new KeyValuePair<string, object?>("listener", listener), new KeyValuePair<string, object?>("transport", transport));
        }
    }

    internal static (long Total, int Max, long Bytes, long MaxBytes) QueueDepths(XmppServer server)
    {
        long total = 0, bytes = 0, maxBytes = 0;
        var max = 0;
        foreach (var stream in server.Heartbeat.Streams)
        {
            var depth = stream.QueueDepth;
            total += depth;
            if (depth > max) max = depth;
            var queued = stream.QueuedBytes;
            bytes += queued;
            if (queued > maxBytes) maxBytes = queued;
        }
        return (total, max, bytes, maxBytes);
    }

    /// <summary>A client's input was paused over its output budget.</summary>
    public void OutputPaused() => _outputPaused.Add(1);

    /// <summary>A client's input was read later over its read rate.</summary>
    public void InputShaped() => _inputShaped.Add(1);

    /// <summary>A client's stanza was refused over its session's stanza rate.</summary>
    public void RateLimited(string kind) => _rateLimited.Add(1, new KeyValuePair<string, object?>("kind", kind));

    /// <summary>A stanza routed to a client was refused over its queue limits.</summary>
    public void OutputRefused() => _outputRefused.Add(1);

    private static IEnumerable<Measurement<long>> ObserveCollections()
    {
        for (var generation = 0; generation <= GC.MaxGeneration; generation++)
        {
            yield return new Measurement<long>(GC.CollectionCount(generation), new KeyValuePair<string, object?>("generation", GenerationName(generation)));
        }
    }

    private static string GenerationName(int generation) => generation switch { 0 => "gen0", 1 => "gen1", 2 => "gen2", _ => "gen" + generation };

    public void Dispose() => Meter.Dispose();
}
