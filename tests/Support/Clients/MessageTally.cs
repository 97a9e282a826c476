using System.Collections.Concurrent;
using System.Globalization;
using Tendril.Client;
using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Tests.Support;

/// <summary>
/// Counts a numbered stream of messages across a fault: each message sent is, in the end, delivered live, delivered from
/// offline storage (it carries a XEP-0203 delay stamp), bounced to the sender with an error — or lost. Duplicates (a
/// message received more than once, which at-least-once delivery allows) are counted apart.
/// </summary>
public sealed class MessageTally(string prefix)
{
    private readonly ConcurrentDictionary<int, int> _live = new();
    private readonly ConcurrentDictionary<int, int> _stored = new();
    private readonly ConcurrentDictionary<int, int> _bounced = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _sent;
    private int _duplicates;

    public int Sent => Volatile.Read(ref _sent);

    public int Live => _live.Count;

    public int Stored => _stored.Count;

    public int Bounced => _bounced.Count;

    /// <summary>Messages a client got twice, plus messages delivered live and also from offline storage.</summary>
    public int Duplicates
    {
        get
        {
            var both = 0;
            foreach (var n in _stored.Keys) if (_live.ContainsKey(n)) both++;
            return Volatile.Read(ref _duplicates) + both;
        }
    }

    /// <summary>Sent messages neither received (live or stored) nor bounced.</summary>
    public int Lost
    {
        get
        {
            var lost = 0;
            for (var i = 0; i < Sent; i++)
            {
                if (!_live.ContainsKey(i) && !_stored.ContainsKey(i) && !_bounced.ContainsKey(i)) lost++;
            }
            return lost;
        }
    }

    /// <summary>The numbers of the lost messages (for the failure message).</summary>
    public IEnumerable<int> LostNumbers()
    {
        for (var i = 0; i < Sent; i++)
        {
            if (!_live.ContainsKey(i) && !_stored.ContainsKey(i) && !_bounced.ContainsKey(i)) yield return i;
        }
    }

    public string Body(int number) => prefix + number.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Counts what <paramref name="recipient"/> receives of the stream. A duplicate is a message one client gets twice, or
    /// one delivered live and from offline storage; a message to the bare JID reaching two resources is RFC 6121
    /// §8.5.2.1.1 at work, not a duplicate.
    /// </summary>
    public void WatchRecipient(XmppClient recipient)
    {
        var seen = new ConcurrentDictionary<int, int>();
        recipient.StanzaReceived += (_, s) =>
        {
            if (s.Name != "message" || s.GetAttribute("type") == "error" || Number(s) is not { } n) return;
            if (!seen.TryAdd(n, 0)) Interlocked.Increment(ref _duplicates);
            (s.Element("delay", Ns.Delay) is null ? _live : _stored).TryAdd(n, 0);
            Signal();
        };
    }

    /// <summary>Counts the error bounces <paramref name="sender"/> receives for the stream.</summary>
    public void WatchSender(XmppClient sender) => sender.StanzaReceived += (_, s) =>
    {
        if (s.Name != "message" || s.GetAttribute("type") != "error" || Number(s) is not { } n) return;
        _bounced.TryAdd(n, 0);
        Signal();
    };

    /// <summary>Sends the next numbered chat message to <paramref name="to"/>; returns its number.</summary>
    public async Task<int> SendNextAsync(XmppClient sender, Jid to)
    {
        var n = Interlocked.Increment(ref _sent) - 1;
        var body = Body(n);
        var message = new XmlElement("message", Ns.Client).SetAttribute("to", to.ToString()).SetAttribute("type", "chat").SetAttribute("id", body);
        message.AddElement("body").Add(body);
        await sender.SendAsync(message);
        return n;
    }

    /// <summary>Waits until <paramref name="condition"/> holds (re-checked on every count change), or the timeout.</summary>
    public async Task<bool> WaitAsync(Func<MessageTally, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var changed = Volatile.Read(ref _changed).Task;
            if (condition(this)) return true;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return false;
            await Task.WhenAny(changed, Task.Delay(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1)));
        }
    }

    /// <summary>Every message sent so far is accounted for (received or bounced).</summary>
    public bool AllAccounted => Lost == 0;

    public override string ToString() =>
        $"sent {Sent}, delivered {Live}, stored offline {Stored}, bounced {Bounced}, lost {Lost}, duplicates {Duplicates}"
        + (Lost > 0 ? " (lost: " + string.Join(' ', LostNumbers().Take(50)) + ")" : "");

    private int? Number(XmlElement message)
    {
        var body = message.Element("body")?.Text;
        return body is not null && body.StartsWith(prefix, StringComparison.Ordinal)
            && int.TryParse(body.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
    }

    private void Signal() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
