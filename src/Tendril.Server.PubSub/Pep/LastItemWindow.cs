using System.Collections.Concurrent;
using Tendril.Server.Features.PubSub;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Features.Pep;

/// <summary>
/// The time between a session announcing caps (its initial presence, or a new ver) and the end of the last-item send
/// those caps trigger (XEP-0163 §4.3). The live notification path may reach the session in that time with the very
/// item the send is about to read as a node's last one; the window records the items it delivered so the send skips
/// them. It opens in the client-stanza filter, before the presence takes effect, so no live delivery is missed. Only
/// sessions in such a window have one: nothing is kept per session otherwise.
/// </summary>
internal sealed class LastItemWindow
{
    // A window left open (an initial presence that another filter dropped) lasts until the session ends: bounded.
    private const int MaxRecorded = 1024;

    private readonly Lock _gate = new();
    private HashSet<(string Service, string Node, string Item)>? _delivered;
    private int _opens;
    private bool _closed;

    /// <summary>Opens (or joins) the session's window; every <see cref="Open"/> is matched by one <see cref="Close"/>.</summary>
    public static LastItemWindow Open(ConcurrentDictionary<C2sSession, LastItemWindow> windows, C2sSession session)
    {
        while (true)
        {
            var window = windows.GetOrAdd(session, static _ => new LastItemWindow());
            lock (window._gate)
            {
                if (window._closed) continue; // closed and removed just now: make a new one
                window._opens++;
                return window;
            }
        }
    }

    public void Close(ConcurrentDictionary<C2sSession, LastItemWindow> windows, C2sSession session)
    {
        lock (_gate)
        {
            if (--_opens > 0) return;
            _closed = true;
            windows.TryRemove(new KeyValuePair<C2sSession, LastItemWindow>(session, this));
        }
    }

    /// <summary>Notes an item event the live path delivered to the session (other events carry no item to repeat).</summary>
    public void Delivered(string service, string node, XmlElement content)
    {
        if (content.Name != "items" || content.Namespace != PubSubNs.Event) return;
        lock (_gate)
        {
            foreach (var item in content.Elements("item", PubSubNs.Event))
            {
                if (item.GetAttribute("id") is { } id && (_delivered ??= []).Count < MaxRecorded) _delivered.Add((service, node, id));
            }
        }
    }

    public bool Has(string service, string node, string item)
    {
        lock (_gate) return _delivered is not null && _delivered.Contains((service, node, item));
    }
}
