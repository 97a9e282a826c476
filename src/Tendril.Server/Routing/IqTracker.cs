using System.Collections.Concurrent;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Xml;

namespace Tendril.Server.Routing;

/// <summary>
/// Requests the server itself sends (iq get/set to a client): each waits for its result or error, and the
/// heartbeat fails the ones unanswered after their timeout with <c>remote-server-timeout</c> — nothing waits forever.
/// </summary>
public sealed class IqTracker
{
    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly XmppServer _server;
    private long _next;

    internal IqTracker(XmppServer server) => _server = server;

    public int PendingCount => _pending.Count;

    /// <summary>Sends <paramref name="iq"/> (its id is assigned here) and returns the response stanza, or a synthesized error on timeout.</summary>
    public Task<XmlElement> SendAsync(XmlElement iq, Jid to, TimeSpan timeout)
    {
        var id = "srv-" + Interlocked.Increment(ref _next).ToString(System.Globalization.CultureInfo.InvariantCulture);
        iq.SetAttribute("id", id);
        iq.SetAttribute("to", to.ToString());
        iq.SetAttribute("from", _server.Domain);
        var pending = new Pending(to, new TaskCompletionSource<XmlElement>(TaskCreationOptions.RunContinuationsAsynchronously), _server.Time.GetUtcNow() + timeout, iq);
        _pending[id] = pending;
        _server.Router.DeliverFromServer(iq, to);
        return pending.Completion.Task;
    }

    internal bool Complete(XmlElement response, Jid from)
    {
        var id = response.GetAttribute("id");
        if (id is null || !_pending.TryGetValue(id, out var pending)) return false;
        // Only the entity the request went to may answer it (RFC 6120 §8.2.3: ids are scoped to the peer).
        if (pending.To.IsFull ? pending.To != from : pending.To != from.Bare) return false;
        if (!_pending.TryRemove(new KeyValuePair<string, Pending>(id, pending))) return false;
        pending.Completion.TrySetResult(response);
        return true;
    }

    internal void Sweep(DateTimeOffset now)
    {
        foreach (var pair in _pending)
        {
            if (pair.Value.Deadline > now) continue;
            if (_pending.TryRemove(pair))
            {
                var error = StanzaError.Of(StanzaErrorCondition.RemoteServerTimeout).ToReply(pair.Value.Request);
                pair.Value.Completion.TrySetResult(error);
            }
        }
    }

    private sealed record Pending(Jid To, TaskCompletionSource<XmlElement> Completion, DateTimeOffset Deadline, XmlElement Request);
}
