using System.Threading.Channels;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Xml;

namespace Tendril.Client;

/// <summary>The background read loop and stanza dispatch.</summary>
public sealed partial class XmppClient
{
    private readonly SemaphoreSlim _waitLock = new(1, 1);
    private readonly List<XmlElement> _backlog = [];

    private async Task ReadLoopAsync()
    {
        Exception? error = null;
        try
        {
            var ended = false;
            while (!ended)
            {
                var result = await _reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                while (_parser.TryRead(ref buffer, out var ev))
                {
                    if (ev.Kind == XmlStreamEventKind.StreamEnd)
                    {
                        ended = true;
                        break;
                    }
                    if (ev.Kind == XmlStreamEventKind.StreamStart) throw new XmppException("Unexpected stream header from the server.");
                    var dispatch = DispatchAsync(ev.Element!);
                    if (!dispatch.IsCompletedSuccessfully) await dispatch.ConfigureAwait(false);
                }
                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (ended) break;
                if (result.IsCompleted)
                {
                    if (Volatile.Read(ref _disposed) == 0) error = new IOException("The server closed the connection without closing the stream.");
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            // While disposing, a closed socket is the expected way out.
            if (Volatile.Read(ref _disposed) == 0 || ex is XmppStreamException) error = ex;
        }
        Volatile.Write(ref _state, StateClosed);
        try { await _reader.CompleteAsync().ConfigureAwait(false); } catch (InvalidOperationException) { }
        if (Volatile.Read(ref _disposed) == 0)
        {
            // The server ended the stream (or the connection died): answer its closing tag and hang up.
            try { await SendCloseTagAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false); }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or TimeoutException or InvalidOperationException or System.Net.Sockets.SocketException) { }
            await CloseTransportAsync().ConfigureAwait(false);
        }
        Finish(error);
    }

    private ValueTask DispatchAsync(XmlElement element)
    {
        if (element.Namespace == Ns.Streams)
        {
            if (element.Name == "error") throw ParseStreamError(element);
            return ValueTask.CompletedTask; // other stream-level elements (e.g. late features) are not stanzas
        }
        if (element.Name == "iq" && element.Namespace == Ns.Client)
        {
            var type = element.GetAttribute("type");
            if (type is "result" or "error")
            {
                var id = element.GetAttribute("id");
                if (id is not null && _pendingIqs.TryGetValue(id, out var pending) && IsFromExpected(element.GetAttribute("from"), pending.To)
                    && _pendingIqs.TryRemove(id, out _))
                {
                    pending.TrySetResult(element);
                    return ValueTask.CompletedTask;
                }
            }
            else if (type is "get" or "set")
            {
                HandleIqRequest(element, type);
                return ValueTask.CompletedTask;
            }
        }
        StanzaReceived?.Invoke(this, element);
        if (_stanzas is null || _stanzas.Writer.TryWrite(element)) return ValueTask.CompletedTask;
        return WriteSlowAsync(element);
    }

    private async ValueTask WriteSlowAsync(XmlElement element)
    {
        try
        {
            await _stanzas!.Writer.WriteAsync(element, _lifetime.Token).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
        }
    }

    /// <summary>RFC 6120 §8.1.2.1 / §10.3.3: a response must come from where the request went.</summary>
    private bool IsFromExpected(string? from, string? to)
    {
        if (to is null)
        {
            // No 'to': the server answered on behalf of the account.
            return from is null || from == Jid.Domain || Jid.TryParse(from, out var f) && (f == Jid || f == Jid.Bare || f.IsDomain && f.Domain == Jid.Domain);
        }
        if (from is null) return false;
        if (string.Equals(from, to, StringComparison.OrdinalIgnoreCase)) return true;
        return Jid.TryParse(from, out var a) && Jid.TryParse(to, out var b) && a == b;
    }

    private void HandleIqRequest(XmlElement iq, string type)
    {
        var payload = iq.FirstElement();
        if (payload is not null && _iqHandlers.TryGetValue((payload.Name, payload.Namespace), out var handler))
        {
            _ = RunIqHandlerAsync(iq, handler);
            return;
        }
        if (payload is not null && type == "get" && payload.Is("ping", Ns.Ping))
        {
            // XEP-0199 §4.1: servers ping idle clients and drop those that do not answer.
            SendNoWait(CreateIqResult(iq));
            return;
        }
        SendNoWait(StanzaError.Of(StanzaErrorCondition.ServiceUnavailable).ToReply(iq));
    }

    private async Task RunIqHandlerAsync(XmlElement iq, Func<XmlElement, CancellationToken, ValueTask<XmlElement?>> handler)
    {
        XmlElement reply;
        try
        {
            var result = await handler(iq, _lifetime.Token).ConfigureAwait(false);
            reply = CreateIqResult(iq);
            if (result is not null) reply.Add(result);
        }
        catch (XmppStanzaException ex)
        {
            reply = ex.Error.ToReply(iq);
        }
        catch (Exception)
        {
            reply = StanzaError.Of(StanzaErrorCondition.InternalServerError).ToReply(iq);
        }
        SendNoWait(reply);
    }

    /// <summary>An empty iq result answering <paramref name="request"/>.</summary>
    public static XmlElement CreateIqResult(XmlElement request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var result = new XmlElement("iq", Ns.Client).SetAttribute("type", "result");
        var id = request.GetAttribute("id");
        if (id is not null) result.SetAttribute("id", id);
        var from = request.GetAttribute("from");
        if (from is not null) result.SetAttribute("to", from);
        return result;
    }

    /// <summary>
    /// Waits for a stanza matching <paramref name="predicate"/> (for tests and scripts). Reads <see cref="Stanzas"/>;
    /// stanzas that do not match are kept in a backlog that later calls search first, so the order of waits need not
    /// follow the order of arrival. Throws <see cref="TimeoutException"/>, or the connection's error when it ends.
    /// </summary>
    public async Task<XmlElement> WaitForAsync(Func<XmlElement, bool> predicate, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var reader = Stanzas;
        await _waitLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var i = 0; i < _backlog.Count; i++)
            {
                if (predicate(_backlog[i]))
                {
                    var found = _backlog[i];
                    _backlog.RemoveAt(i);
                    return found;
                }
            }
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(timeout);
            try
            {
                while (true)
                {
                    var stanza = await reader.ReadAsync(cts.Token).ConfigureAwait(false);
                    if (predicate(stanza)) return stanza;
                    if (_backlog.Count >= Math.Max(_options.StanzaQueueCapacity, 16)) _backlog.RemoveAt(0);
                    _backlog.Add(stanza);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"No matching stanza within {timeout}.");
            }
            catch (ChannelClosedException)
            {
                if (Completion.IsFaulted) throw new XmppException("The connection ended while waiting.", Completion.Exception!.InnerException);
                throw new XmppException("The connection ended while waiting.");
            }
        }
        finally
        {
            _waitLock.Release();
        }
    }
}
