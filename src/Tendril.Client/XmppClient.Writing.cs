using System.Buffers;
using System.Runtime.CompilerServices;
using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Client;

/// <summary>
/// The writer: elements are serialized straight into the pipe under a semaphore. A writer that sees others queued
/// behind it skips the flush and leaves it to the last one, so a burst of concurrent sends becomes one TLS record
/// and one syscall, and a lone send is flushed at once. No per-send allocation beyond the element itself.
/// </summary>
public sealed partial class XmppClient
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private int _writeWaiters;
    private bool _closeSent;

    /// <summary>
    /// Sends a stanza (or any top-level element). Elements in <c>jabber:client</c> or with an empty namespace are
    /// written without an xmlns. Completes when the bytes are handed to the socket (or queued behind a flush that
    /// another sender will perform). Throws <see cref="InvalidOperationException"/> when not connected.
    /// </summary>
    public ValueTask SendAsync(XmlElement stanza, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stanza);
        if (Volatile.Read(ref _state) != StateConnected) throw new InvalidOperationException("The client is not connected.");
        return WriteElementAsync(stanza, cancellationToken);
    }

    /// <summary>Sends an iq and returns the result. Assigns an id when the iq has none.</summary>
    /// <returns>The <c>type='result'</c> response.</returns>
    /// <exception cref="XmppStanzaException">The response is <c>type='error'</c> (the parsed error and the stanza).</exception>
    /// <exception cref="TimeoutException">No response within <paramref name="timeout"/> (default <see cref="XmppClientOptions.IqTimeout"/>).</exception>
    public async Task<XmlElement> SendIqAsync(XmlElement iq, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(iq);
        var id = iq.GetAttribute("id");
        if (id is null)
        {
            id = NextId();
            iq.SetAttribute("id", id);
        }
        var pending = new PendingIq(iq.GetAttribute("to"));
        if (!_pendingIqs.TryAdd(id, pending)) throw new InvalidOperationException($"An iq with id '{id}' is already pending.");
        try
        {
            await SendAsync(iq, cancellationToken).ConfigureAwait(false);
            var response = await pending.Task.WaitAsync(timeout ?? _options.IqTimeout, cancellationToken).ConfigureAwait(false);
            if (response.GetAttribute("type") == "error")
            {
                throw new XmppStanzaException(
                    Protocol.Errors.StanzaError.Parse(response) ?? Protocol.Errors.StanzaError.Of(Protocol.Errors.StanzaErrorCondition.UndefinedCondition), response);
            }
            return response;
        }
        finally
        {
            _pendingIqs.TryRemove(id, out _);
        }
    }

    /// <summary>Sends <c>&lt;message type='…' to='…'&gt;&lt;body&gt;…&lt;/body&gt;&lt;/message&gt;</c>.</summary>
    public ValueTask SendMessageAsync(Jid to, string body, string type = "chat", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(to);
        ArgumentNullException.ThrowIfNull(body);
        var message = new XmlElement("message", Ns.Client).SetAttribute("to", to.ToString()).SetAttribute("type", type);
        message.AddElement("body").Add(body);
        return SendAsync(message, cancellationToken);
    }

    /// <summary>
    /// Sends presence: with no arguments, initial/available broadcast presence (RFC 6121 §4.2).
    /// <paramref name="type"/>: null (available), unavailable, subscribe, subscribed, unsubscribe, unsubscribed, probe.
    /// </summary>
    public ValueTask SendPresenceAsync(Jid? to = null, string? type = null, string? show = null, string? status = null, int? priority = null,
        CancellationToken cancellationToken = default)
    {
        var presence = new XmlElement("presence", Ns.Client);
        if (to is not null) presence.SetAttribute("to", to.ToString());
        if (type is not null) presence.SetAttribute("type", type);
        if (show is not null) presence.AddElement("show").Add(show);
        if (status is not null) presence.AddElement("status").Add(status);
        if (priority is { } p) presence.AddElement("priority").Add(p.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return SendAsync(presence, cancellationToken);
    }

    /// <summary>Fire-and-forget send from the read loop (auto-replies): never blocks reading on the writer.</summary>
    private void SendNoWait(XmlElement element)
    {
        if (Volatile.Read(ref _state) != StateConnected) return;
        var task = WriteElementAsync(element, CancellationToken.None);
        if (task.IsCompletedSuccessfully) return;
        _ = ObserveAsync(task);

        static async Task ObserveAsync(ValueTask t)
        {
            try { await t.ConfigureAwait(false); }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or System.Net.Sockets.SocketException or OperationCanceledException) { }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteElementAsync(XmlElement element, CancellationToken ct)
    {
        Interlocked.Increment(ref _writeWaiters);
        // No cancellation while waiting for the lock: whoever holds it may rely on us to flush.
        await _writeLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            Interlocked.Decrement(ref _writeWaiters);
            if (_closeSent) throw new InvalidOperationException("The stream has been closed.");
            XmlWriter.Write(_writer, element, element.Namespace.Length == 0 ? "" : Ns.Client);
            if (Volatile.Read(ref _writeWaiters) == 0)
            {
                await _writer.FlushAsync(ct).ConfigureAwait(false);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async ValueTask SendCloseTagAsync()
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_closeSent || Volatile.Read(ref _transportClosed) != 0) return;
            _closeSent = true;
            _writer.Write("</stream:stream>"u8);
            await _writer.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }
}
