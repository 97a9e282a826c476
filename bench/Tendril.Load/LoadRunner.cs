using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Authentication;
using Tendril.Client;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Protocol.Sasl;
using Tendril.Xml;

namespace Tendril.Load;

/// <summary>
/// Runs one load test: paced logins, the chosen scenario for a fixed time, a short drain, then the report.
/// Every connection is an <see cref="XmppClient"/> without a stanza queue: stanzas are handled synchronously on the
/// client's read loop (timestamps parsed, latency recorded, windows released), so the tool holds no per-message state.
/// </summary>
public sealed class LoadRunner(LoadOptions options)
{
    private const string LoadNs = "urn:xmpp:tendril:load:0";
    private const string PubsubNs = "http://jabber.org/protocol/pubsub";
    private const string PubsubOwnerNs = "http://jabber.org/protocol/pubsub#owner";
    private const string PubsubEventNs = "http://jabber.org/protocol/pubsub#event";

    private readonly LoadOptions _o = options;
    private readonly XmppClient?[] _clients = new XmppClient?[options.Users];
    private readonly SemaphoreSlim?[] _windows = new SemaphoreSlim?[options.Users];
    private readonly ConcurrentDictionary<string, long> _errors = new(StringComparer.Ordinal);
    private readonly string _padding = new('x', Math.Max(0, options.BodySize - 20));

    internal LatencyHistogram LoginLatency { get; } = new();
    internal LatencyHistogram EndToEnd { get; } = new();

    private long _loginsOk;
    private long _loginsFailed;
    private long _sent;
    private long _delivered;
    private long _stanzaErrors;
    private long _disconnects;
    private long _subscribers;
    private volatile bool _tearingDown;
    private volatile string _phase = "start";

    internal long LoginsOk => Interlocked.Read(ref _loginsOk);
    internal long LoginsFailed => Interlocked.Read(ref _loginsFailed);
    internal long Sent => Interlocked.Read(ref _sent);
    internal long Delivered => Interlocked.Read(ref _delivered);
    internal long Disconnects => Interlocked.Read(ref _disconnects);
    internal long ErrorCount => _errors.Values.Sum();
    internal IReadOnlyDictionary<string, long> Errors => _errors;
    internal long Connected => LoginsOk - Disconnects;

    private void CountError(string kind) => _errors.AddOrUpdate(kind, 1, static (_, n) => n + 1);

    internal static string Describe(Exception e) => e switch
    {
        XmppAuthenticationException a => "auth:" + (a.Condition == SaslFailure.None ? "bad-server-signature" : a.Condition.ToElementName()),
        XmppStreamException s => "stream-error:" + StreamError.ToElementName(s.Condition),
        XmppStanzaException st => "stanza-error:" + StanzaError.ToElementName(st.Error.Condition),
        TimeoutException => "timeout",
        SocketException se => "socket:" + se.SocketErrorCode,
        AuthenticationException => "tls-handshake",
        IOException io when io.InnerException is SocketException se2 => "socket:" + se2.SocketErrorCode,
        IOException => "io",
        XmppException x => "xmpp:" + x.Message,
        _ => e.GetType().Name,
    };

    // ---- logins --------------------------------------------------------------------------------------------------

    internal async Task ConnectAllAsync(CancellationToken ct)
    {
        _phase = "connect";
        using var pending = new SemaphoreSlim(_o.MaxPendingLogins);
        var tasks = new List<Task>(_o.Users);
        var clock = Stopwatch.StartNew();
        var started = 0;
        while (started < _o.Users && !ct.IsCancellationRequested)
        {
            var due = _o.ConnectRate <= 0 ? _o.Users : Math.Min(_o.Users, (int)(clock.Elapsed.TotalSeconds * _o.ConnectRate) + 1);
            while (started < due && !ct.IsCancellationRequested)
            {
                try { await pending.WaitAsync(ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                var index = started++;
                tasks.Add(LoginOneAsync(index, pending, ct));
            }
            if (started < _o.Users)
            {
                var next = TimeSpan.FromSeconds(started / _o.ConnectRate) - clock.Elapsed;
                if (next > TimeSpan.Zero) await Task.Delay(next, CancellationToken.None).ConfigureAwait(false);
            }
        }
        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private async Task LoginOneAsync(int index, SemaphoreSlim pending, CancellationToken ct)
    {
        await Task.Yield();
        var (host, port) = _o.EndPointFor(index);
        var client = new XmppClient(new XmppClientOptions
        {
            Jid = Jid.Create(_o.UserName(index), _o.Domain),
            Password = _o.Password(index),
            Host = host,
            Port = port,
            LocalAddress = _o.SourceAddressFor(index),
            DirectTls = _o.DirectTls,
            Resource = _o.ResourceFor(index),
            Mechanism = _o.Mechanism,
            AcceptAnyCertificate = !_o.VerifyCertificate,
            StanzaQueueCapacity = 0,
            ConnectTimeout = TimeSpan.FromSeconds(_o.ConnectTimeout),
        });
        client.StanzaReceived += (c, stanza) => OnStanza(index, c, stanza);
        client.Disconnected += OnDisconnected;
        var t0 = Stopwatch.GetTimestamp();
        try
        {
            await client.ConnectAsync(ct).ConfigureAwait(false);
            await client.SendPresenceAsync(cancellationToken: ct).ConfigureAwait(false);
            LoginLatency.Record(Micros(Stopwatch.GetElapsedTime(t0)));
            _clients[index] = client;
            Interlocked.Increment(ref _loginsOk);
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _loginsFailed);
            CountError("login:" + Describe(e));
            client.Disconnected -= OnDisconnected;
            await client.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            pending.Release();
        }
    }

    private void OnDisconnected(XmppClient client, Exception? error)
    {
        if (_tearingDown) return;
        Interlocked.Increment(ref _disconnects);
        CountError("disconnected:" + (error is null ? "server-closed-stream" : Describe(error)));
    }

    internal static long Micros(TimeSpan t) => t.Ticks / 10;

    private static long MicrosSince(long timestamp)
    {
        var delta = Stopwatch.GetTimestamp() - timestamp;
        return (long)(delta * (1_000_000.0 / Stopwatch.Frequency));
    }

    // ---- receiving -----------------------------------------------------------------------------------------------

    private void OnStanza(int index, XmppClient client, XmlElement stanza)
    {
        var type = stanza.GetAttribute("type");
        if (type == "error")
        {
            Interlocked.Increment(ref _stanzaErrors);
            var condition = StanzaError.Parse(stanza)?.Condition ?? StanzaErrorCondition.UndefinedCondition;
            CountError($"{stanza.Name}-error:{StanzaError.ToElementName(condition)}");
            return;
        }
        switch (stanza.Name)
        {
            case "message":
                if (_o.Scenario == Scenario.Pubsub)
                {
                    var entry = stanza.Element("event", PubsubEventNs)?.Element("items")?.Element("item")?.Element("entry", LoadNs);
                    if (entry is not null && TryTimestamp(entry.Text, out var pts)) Delivered1(pts);
                    return;
                }
                var body = stanza.Element("body")?.Text;
                if (body is not null && TryTimestamp(body, out var ts))
                {
                    Delivered1(ts);
                    _windows[index]?.Release();
                }
                return;
            case "presence":
                var status = stanza.Element("status")?.Text;
                if (status is not null && TryTimestamp(status, out var prs))
                {
                    Delivered1(prs);
                    // The server reflects our own presence back to us (RFC 6121 §4.2.2): that closes the window slot.
                    if (stanza.GetAttribute("from") is { } from && client.Jid is { } jid && from == jid.ToString()) _windows[index]?.Release();
                }
                return;
        }
    }

    private void Delivered1(long timestamp)
    {
        EndToEnd.Record(MicrosSince(timestamp));
        Interlocked.Increment(ref _delivered);
    }

    /// <summary>Bodies start with "T&lt;Stopwatch timestamp&gt;" (the clock is this process's: sender and receiver are both here).</summary>
    private static bool TryTimestamp(string text, out long timestamp)
    {
        timestamp = 0;
        if (text.Length < 2 || text[0] != 'T') return false;
        var span = text.AsSpan(1);
        var end = span.IndexOf(' ');
        if (end >= 0) span = span[..end];
        return long.TryParse(span, NumberStyles.None, CultureInfo.InvariantCulture, out timestamp);
    }

    private string Stamp() => "T" + Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture);

    // ---- scenarios -----------------------------------------------------------------------------------------------

    internal async Task RunScenarioAsync(CancellationToken ct)
    {
        _phase = _o.Scenario.ToString().ToLowerInvariant();
        switch (_o.Scenario)
        {
            case Scenario.Idle:
                await DelayQuiet(TimeSpan.FromSeconds(_o.Duration), ct).ConfigureAwait(false);
                break;
            case Scenario.Chat:
                await ChatAsync(ct).ConfigureAwait(false);
                break;
            case Scenario.Presence:
                await PresenceAsync(ct).ConfigureAwait(false);
                break;
            case Scenario.Pubsub:
                await PubsubAsync(ct).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>Expected deliveries per stanza sent (for the loss figure); 0 when unknown.</summary>
    internal long ExpectedDeliveries => _o.Scenario switch
    {
        Scenario.Chat => Sent,
        Scenario.Presence => Sent, // at least the reflection to the sender; contacts add more on servers with rosters
        Scenario.Pubsub => Sent * Interlocked.Read(ref _subscribers),
        _ => 0,
    };

    internal async Task DrainAsync(TimeSpan limit)
    {
        _phase = "drain";
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit && Delivered < ExpectedDeliveries) await Task.Delay(50).ConfigureAwait(false);
    }

    private static async Task DelayQuiet(TimeSpan delay, CancellationToken ct)
    {
        try { await Task.Delay(delay, ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    private async Task ChatAsync(CancellationToken ct)
    {
        var pairs = _o.EffectivePairs;
        var rate = _o.EffectiveRate;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(TimeSpan.FromSeconds(_o.Duration));
        var senders = new List<Task>(pairs * 2);
        for (var p = 0; p < pairs; p++)
        {
            int a = 2 * p, b = (2 * p) + 1;
            if (_clients[a] is null || _clients[b] is null) continue;
            if (rate <= 0)
            {
                _windows[a] = new SemaphoreSlim(_o.Window);
                _windows[b] = new SemaphoreSlim(_o.Window);
            }
            senders.Add(SenderAsync(a, b, rate / 2, stop.Token));
            senders.Add(SenderAsync(b, a, rate / 2, stop.Token));
        }
        await Task.WhenAll(senders).ConfigureAwait(false);
    }

    private Task SenderAsync(int from, int to, double rate, CancellationToken ct)
    {
        var sender = _clients[from]!;
        var target = _clients[to]!.Jid.ToString();
        return PacedLoopAsync(rate, _windows[to], () =>
        {
            var message = new XmlElement("message", Ns.Client).SetAttribute("to", target).SetAttribute("type", "chat");
            message.AddElement("body").Add(_padding.Length == 0 ? Stamp() : Stamp() + " " + _padding);
            return sender.SendAsync(message, CancellationToken.None);
        }, ct);
    }

    /// <summary>
    /// Calls <paramref name="send"/> at <paramref name="rate"/> per second (with a random phase so that thousands of
    /// senders do not fire together), or, when the rate is 0, whenever <paramref name="window"/> has a free slot.
    /// </summary>
    private async Task PacedLoopAsync(double rate, SemaphoreSlim? window, Func<ValueTask> send, CancellationToken ct)
    {
        try
        {
            if (rate > 0)
            {
                var interval = Stopwatch.Frequency / rate;
                double next = Stopwatch.GetTimestamp() + (Random.Shared.NextDouble() * interval);
                while (!ct.IsCancellationRequested)
                {
                    var wait = (next - Stopwatch.GetTimestamp()) / Stopwatch.Frequency;
                    if (wait > 0.001) await Task.Delay(TimeSpan.FromSeconds(wait), ct).ConfigureAwait(false);
                    next += interval;
                    // After a stall (GC, overload) do not burst to catch up more than a second's worth.
                    var now = Stopwatch.GetTimestamp();
                    if (now - next > Stopwatch.Frequency) next = now;
                    await send().ConfigureAwait(false);
                    Interlocked.Increment(ref _sent);
                }
            }
            else
            {
                while (!ct.IsCancellationRequested)
                {
                    await window!.WaitAsync(ct).ConfigureAwait(false);
                    await send().ConfigureAwait(false);
                    Interlocked.Increment(ref _sent);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            CountError("send:" + Describe(e));
        }
    }

    private async Task PresenceAsync(CancellationToken ct)
    {
        var rate = _o.EffectiveRate;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(TimeSpan.FromSeconds(_o.Duration));
        var senders = new List<Task>(_o.Users);
        for (var i = 0; i < _clients.Length; i++)
        {
            var client = _clients[i];
            if (client is null) continue;
            if (rate <= 0) _windows[i] = new SemaphoreSlim(_o.Window);
            senders.Add(PacedLoopAsync(rate, _windows[i], () =>
            {
                var presence = new XmlElement("presence", Ns.Client);
                presence.AddElement("status").Add(Stamp());
                return client.SendAsync(presence, CancellationToken.None);
            }, stop.Token));
        }
        await Task.WhenAll(senders).ConfigureAwait(false);
    }

    private bool _nodeCreated;

    private async Task PubsubAsync(CancellationToken ct)
    {
        var publisher = _clients[0];
        if (publisher is null)
        {
            CountError("pubsub:publisher-not-connected");
            return;
        }
        var service = _o.EffectivePubsubService;
        var node = _o.PubsubNode;
        _phase = "pubsub-setup";
        try
        {
            var create = Iq("set", service, PubsubNs);
            create.FirstElement()!.AddElement("create").SetAttribute("node", node);
            await publisher.SendIqAsync(create, cancellationToken: ct).ConfigureAwait(false);
            _nodeCreated = true;
        }
        catch (XmppStanzaException e) when (e.Error.Condition == StanzaErrorCondition.Conflict)
        {
            // The node exists already (an earlier run): publish to it as it is.
        }
        catch (Exception e) when (e is XmppStanzaException or TimeoutException)
        {
            CountError("pubsub-create:" + Describe(e));
            return;
        }

        using (var gate = new SemaphoreSlim(_o.MaxPendingLogins))
        {
            var subscriptions = new List<Task>();
            for (var i = 1; i < _clients.Length; i++)
            {
                var client = _clients[i];
                if (client is null) continue;
                await gate.WaitAsync(ct).ConfigureAwait(false);
                subscriptions.Add(SubscribeAsync(client, service, node, gate, ct));
            }
            await Task.WhenAll(subscriptions).ConfigureAwait(false);
        }

        _phase = "pubsub";
        var rate = _o.EffectiveRate;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(TimeSpan.FromSeconds(_o.Duration));
        // Window mode counts publish acknowledgements (iq results), not notifications.
        var window = rate <= 0 ? new SemaphoreSlim(_o.Window) : null;
        await PacedLoopAsync(rate, window, () =>
        {
            var publish = Iq("set", service, PubsubNs);
            var item = publish.FirstElement()!.AddElement("publish").SetAttribute("node", node).AddElement("item");
            item.AddElement("entry", LoadNs).Add(Stamp());
            _ = PublishAsync(publisher, publish, window);
            return ValueTask.CompletedTask;
        }, stop.Token).ConfigureAwait(false);
        window?.Dispose();
    }

    private async Task PublishAsync(XmppClient publisher, XmlElement publish, SemaphoreSlim? window)
    {
        try
        {
            await publisher.SendIqAsync(publish).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            CountError("publish:" + Describe(e));
        }
        finally
        {
            try { window?.Release(); } catch (ObjectDisposedException) { }
        }
    }

    private async Task SubscribeAsync(XmppClient client, string service, string node, SemaphoreSlim gate, CancellationToken ct)
    {
        try
        {
            var subscribe = Iq("set", service, PubsubNs);
            subscribe.FirstElement()!.AddElement("subscribe").SetAttribute("node", node).SetAttribute("jid", client.Jid.ToString());
            await client.SendIqAsync(subscribe, cancellationToken: ct).ConfigureAwait(false);
            Interlocked.Increment(ref _subscribers);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            CountError("subscribe:" + Describe(e));
        }
        finally
        {
            gate.Release();
        }
    }

    private static XmlElement Iq(string type, string to, string payloadNs)
    {
        var iq = new XmlElement("iq", Ns.Client).SetAttribute("type", type).SetAttribute("to", to);
        iq.AddElement("pubsub", payloadNs);
        return iq;
    }

    internal long Subscribers => Interlocked.Read(ref _subscribers);

    // ---- teardown ------------------------------------------------------------------------------------------------

    internal async Task DisconnectAllAsync()
    {
        _phase = "teardown";
        _tearingDown = true;
        if (_nodeCreated && _clients[0] is { IsConnected: true } publisher)
        {
            try
            {
                var delete = Iq("set", _o.EffectivePubsubService, PubsubOwnerNs);
                delete.FirstElement()!.AddElement("delete").SetAttribute("node", _o.PubsubNode);
                await publisher.SendIqAsync(delete, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is XmppException or TimeoutException or InvalidOperationException)
            {
            }
        }
        var batch = new List<Task>(1000);
        for (var i = 0; i < _clients.Length; i++)
        {
            if (_clients[i] is not { } c) continue;
            batch.Add(c.DisposeAsync().AsTask());
            _clients[i] = null;
            if (batch.Count == 1000)
            {
                await Task.WhenAll(batch).ConfigureAwait(false);
                batch.Clear();
            }
        }
        await Task.WhenAll(batch).ConfigureAwait(false);
    }

    internal string Phase => _phase;
}
