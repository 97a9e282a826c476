using System.Buffers;
using System.IO.Pipelines;
using Tendril.Protocol;
using Tendril.Server.Transport;
using Tendril.Xml;

namespace Tendril.Server.Streams;

internal enum OutboundKind : byte
{
    /// <summary>A stanza routed from another entity; counts against the queue limit.</summary>
    Routed,

    /// <summary>A <see cref="Routing.SerializedStanza"/> with the recipient's 'to' in <see cref="Outbound.To"/>; counts like Routed.</summary>
    Serialized,

    /// <summary>An element this stream sends itself (negotiation, replies); counts against the limit too.</summary>
    Own,

    /// <summary>A child of the stream namespace written with the <c>stream:</c> prefix (features, error).</summary>
    StreamElement,

    /// <summary>A top-level element that is not a stanza (XEP-0198, XEP-0352): written as is, never counted.</summary>
    Nonza,

    /// <summary>XEP-0198 &lt;enabled/&gt; or &lt;resumed/&gt;: the stanzas written after it are tracked for acks.</summary>
    SmStart,

    /// <summary>Pre-serialized bytes (the stream header).</summary>
    Raw,

    /// <summary>Flush, signal, and wait: the transport is being swapped for TLS.</summary>
    Barrier,

    /// <summary>Write the closing tag, flush, stop.</summary>
    End,
}

/// <param name="Bytes">For stanzas: about how many bytes the stanza takes serialized (the output budget counts these).</param>
internal readonly record struct Outbound(OutboundKind Kind, object? Payload, string? To = null, int Bytes = 0)
{
    public static Outbound Stanza(OutboundKind kind, XmlElement element) => new(kind, element, null, SizeOf(element));

    public static int SizeOf(XmlElement element) => (int)Math.Min(int.MaxValue, element.EstimateSize());
}

internal sealed class TlsBarrier
{
    public TaskCompletionSource Flushed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TaskCompletionSource Resume { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// The connection's single writer: everything sent to the client goes through one queue, drained by one loop that
/// serializes straight into the transport's pipe and flushes once per batch (NATS' CommandWriter habit).
/// The queue is bounded by count and by bytes, with an explicit slow-consumer policy (issue 19): past
/// <c>Limits:OutputBudgetBytes</c> the read loop stops reading the client's input until the queue has drained to half
/// (back-pressure: a client that does not read its answers gets no more of them made); routed stanzas beyond the
/// count limit or <c>Limits:OutputLimitBytes</c> are refused (the router bounces them with resource-constraint); a client
/// that does not even read the answers to its own requests (twice the count limit, or answers beyond the byte limit)
/// is disconnected with policy-violation. The writer flushes every <see cref="FlushBytes"/>, so what sits in the
/// transport's buffers is bounded too.
/// </summary>
public sealed partial class C2sStream
{
    private OutboundQueue<Outbound> _outbound = null!;
    private int _queued;
    private long _queuedBytes;
    private TaskCompletionSource? _drainWaiter; // the read loop, waiting for the queue to drain below half the budget

    /// <summary>The writer flushes once this much is buffered, not only at the end of a batch.</summary>
    private const int FlushBytes = 64 * 1024;
    private bool _writerStarted;
    private bool _headerSent;

    private void InitializeOutput()
    {
        _outbound = new OutboundQueue<Outbound>();
    }

    /// <summary>The queue limit in force (reloadable: read at every enqueue).</summary>
    private int QueueLimit => _server.Options.Limits.OutboundQueueStanzas;

    /// <summary>Stanzas waiting to be written.</summary>
    public int QueueDepth => Volatile.Read(ref _queued);

    /// <summary>About how many bytes of stanzas wait to be written.</summary>
    public long QueuedBytes => Volatile.Read(ref _queuedBytes);

    /// <summary>True while the read loop waits for the output to drain (back-pressure on the client's input).</summary>
    internal bool IsInputPaused => Volatile.Read(ref _drainWaiter) is not null;

    private int OutputBudget => _server.Options.Limits.OutputBudgetBytes;

    private int OutputLimit => _server.Options.Limits.OutputLimitBytes;

    /// <summary>Counts a stanza into the queue; returns the queued bytes with it.</summary>
    private long CountQueued(in Outbound item)
    {
        Interlocked.Increment(ref _queued);
        return Interlocked.Add(ref _queuedBytes, item.Bytes);
    }

    /// <summary>A stanza left the queue (written, or not queued after all): may let the read loop go on.</summary>
    private void UncountQueued(in Outbound item)
    {
        Interlocked.Decrement(ref _queued);
        var left = Interlocked.Add(ref _queuedBytes, -item.Bytes);
        if (left <= OutputBudget / 2 && Volatile.Read(ref _drainWaiter) is not null) SignalDrained();
    }

    private void SignalDrained() => Interlocked.Exchange(ref _drainWaiter, null)?.TrySetResult();

    /// <summary>Read loop: true when the client must wait for its output to drain before its next stanza is handled.</summary>
    private bool OverOutputBudget => Volatile.Read(ref _queuedBytes) > OutputBudget;

    /// <summary>
    /// Read loop: waits until the queue has drained to half the budget (or the stream closes). The client's input stays
    /// unread meanwhile, so TCP (or the WebSocket/BOSH transport) pushes back on it.
    /// </summary>
    private async ValueTask WaitForOutputDrainAsync()
    {
        _server.Metrics.OutputPaused();
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _drainWaiter, waiter);
        // The writer may have drained between the check and the publication above.
        if (Volatile.Read(ref _queuedBytes) <= OutputBudget / 2 || IsClosing) SignalDrained();
        await waiter.Task.WaitAsync(_lifetime.Token).ConfigureAwait(false);
    }

    /// <summary>Queues a stanza from the router. False when the queue is full or the stream is closing.</summary>
    internal bool TryEnqueueRouted(XmlElement stanza) => TryEnqueueCounted(Outbound.Stanza(OutboundKind.Routed, stanza));

    /// <summary>Queues a pre-serialized stanza addressed to <paramref name="to"/>. False when the queue is full or closing.</summary>
    internal bool TryEnqueueSerialized(Routing.SerializedStanza stanza, string to) => TryEnqueueCounted(new Outbound(OutboundKind.Serialized, stanza, to, stanza.Length));

    /// <summary>The one path for stanzas routed to this client: resumption, holding back, then the counted queue.</summary>
    private bool TryEnqueueCounted(Outbound item)
    {
        if (IsClosing) return TryKeepForResumption(item);
        if (_holdPolicy is not null && TryHold(item)) return true;
        var bytes = CountQueued(item);
        // Beyond the count limit, or the byte limit with something already queued: refused (bounced by the router).
        if (Volatile.Read(ref _queued) > QueueLimit || (bytes > OutputLimit && bytes != item.Bytes))
        {
            UncountQueued(item);
            _server.Metrics.OutputRefused();
            return false;
        }
        if (_outbound.TryWrite(item)) return true;
        UncountQueued(item);
        return false;
    }

    /// <summary>Queues an element this stream sends itself (negotiation, answers to its client).</summary>
    public ValueTask SendAsync(XmlElement element)
    {
        if (IsClosing) return ValueTask.CompletedTask;
        if (_holdPolicy is not null) ReleaseHeld();
        var item = Outbound.Stanza(OutboundKind.Own, element);
        var bytes = CountQueued(item);
        if (Volatile.Read(ref _queued) > 2 * QueueLimit)
        {
            UncountQueued(item);
            return CloseAsync(new Protocol.Errors.StreamError(Protocol.Errors.StreamErrorCondition.PolicyViolation, "Too many unread stanzas."), "slow consumer");
        }
        // Reading stops at the budget, so only one request's answers can pass the limit: closed once they already have.
        if (bytes - item.Bytes > OutputLimit)
        {
            UncountQueued(item);
            return CloseAsync(new Protocol.Errors.StreamError(Protocol.Errors.StreamErrorCondition.PolicyViolation, "Too much unread output."), "slow consumer (bytes)");
        }
        if (!_outbound.TryWrite(item)) UncountQueued(item);
        return ValueTask.CompletedTask;
    }

    /// <summary>Sends the stream header for a new stream (RFC 6120 §4.7).</summary>
    internal void SendHeader(string? to)
    {
        _headerSent = true;
        EnqueueControl(new Outbound(OutboundKind.Raw, BuildHeader(to)));
    }

    /// <summary>Sends &lt;stream:features/&gt; (or another stream-namespace element).</summary>
    internal void SendStreamElement(XmlElement element) => EnqueueControl(new Outbound(OutboundKind.StreamElement, element));

    private void EnqueueControl(Outbound item) => _outbound.TryWrite(item);

    private TlsBarrier EnqueueBarrier()
    {
        var barrier = new TlsBarrier();
        if (!_outbound.TryWrite(new Outbound(OutboundKind.Barrier, barrier))) barrier.Flushed.TrySetResult();
        return barrier;
    }

    private byte[] BuildHeader(string? to)
    {
        if (StreamId.Length == 0) NewStreamId();
        return _framing.BuildHeader(StreamId, _server.Domain, to, Language);
    }

    private async Task WriterLoopAsync()
    {
        _writerStarted = true;
        var reader = _outbound;
        var output = _transport.Output;
        var metrics = _server.Metrics;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    switch (item.Kind)
                    {
                        case OutboundKind.Routed:
                        case OutboundKind.Own:
                            var element = (XmlElement)item.Payload!;
                            _framing.WriteElement(output, element);
                            _framing.EndMessage(output);
                            UncountQueued(item);
                            metrics.StanzaOut(element.Name);
                            RecordWritten(item);
                            break;
                        case OutboundKind.Serialized:
                            var serialized = (Routing.SerializedStanza)item.Payload!;
                            _framing.WriteSerialized(output, serialized, item.To!);
                            _framing.EndMessage(output);
                            UncountQueued(item);
                            metrics.StanzaOut(serialized.Name);
                            RecordWritten(item);
                            break;
                        case OutboundKind.Nonza:
                            _framing.WriteElement(output, (XmlElement)item.Payload!);
                            _framing.EndMessage(output);
                            break;
                        case OutboundKind.SmStart:
                            _framing.WriteElement(output, (XmlElement)item.Payload!);
                            _framing.EndMessage(output);
                            _smOut = _sm;
                            break;
                        case OutboundKind.StreamElement:
                            _framing.WriteStreamElement(output, (XmlElement)item.Payload!);
                            _framing.EndMessage(output);
                            break;
                        case OutboundKind.Raw:
                            output.Write((byte[])item.Payload!);
                            _framing.EndMessage(output);
                            break;
                        case OutboundKind.Barrier:
                            var barrier = (TlsBarrier)item.Payload!;
                            await output.FlushAsync().ConfigureAwait(false);
                            barrier.Flushed.TrySetResult();
                            await barrier.Resume.Task.ConfigureAwait(false);
                            output = _transport.Output;
                            break;
                        case OutboundKind.End:
                            _framing.WriteClose(output);
                            _framing.EndMessage(output);
                            await output.FlushAsync().ConfigureAwait(false);
                            return;
                    }
                    // A long batch (a client that fell behind) goes out in pieces: the transport's buffers stay small
                    // and a peer that does not read stops the writer here, with the rest still counted in the queue.
                    if (output.CanGetUnflushedBytes && output.UnflushedBytes >= FlushBytes)
                    {
                        var partial = await output.FlushAsync().ConfigureAwait(false);
                        if (partial.IsCompleted || partial.IsCanceled) return;
                    }
                }
                if (_smOut is { } sm && sm.ShouldRequest())
                {
                    // Ask for an ack once per batch with unacknowledged stanzas (one request outstanding).
                    _framing.WriteElement(output, sm.AckRequest);
                    _framing.EndMessage(output);
                }
                var flush = await output.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled) break;
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            // The peer is gone: the read loop notices as well; make sure it stops.
            await CloseAsync(null, "write failed: " + ex.Message).ConfigureAwait(false);
        }
    }

}
