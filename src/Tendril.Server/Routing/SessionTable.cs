using System.Collections.Concurrent;
using Tendril.Protocol;

namespace Tendril.Server.Routing;

/// <summary>
/// Bound sessions by bare JID. Each account's sessions are a copy-on-write array, so lookups on the routing path
/// take no lock and allocate nothing; a full JID looks up its bare entry directly (the comparer ignores resources).
/// </summary>
public sealed class SessionTable
{
    private readonly ConcurrentDictionary<Jid, Entry> _byBare = new(BareJidComparer.Instance);
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Number of accounts with at least one session.</summary>
    public int AccountCount => _byBare.Count;

    /// <summary>
    /// Adds a session. When a session with the same full JID exists it is removed and returned: the caller closes it
    /// with a <c>conflict</c> stream error (RFC 6120 §7.7.2.2, "override" policy).
    /// </summary>
    public C2sSession? Bind(C2sSession session)
    {
        while (true)
        {
            var entry = _byBare.GetOrAdd(session.Jid, static _ => new Entry());
            lock (entry)
            {
                if (entry.Dead) continue;
                C2sSession? replaced = null;
                var sessions = entry.Sessions;
                var list = new List<C2sSession>(sessions.Length + 1);
                foreach (var s in sessions)
                {
                    if (s.Jid.Resource == session.Jid.Resource) replaced = s;
                    else list.Add(s);
                }
                list.Add(session);
                entry.Sessions = list.ToArray();
                if (replaced is null) Interlocked.Increment(ref _count);
                return replaced;
            }
        }
    }

    /// <summary>Removes the session if it is still the one bound to its full JID.</summary>
    public bool Unbind(C2sSession session)
    {
        if (!_byBare.TryGetValue(session.Jid, out var entry)) return false;
        lock (entry)
        {
            var sessions = entry.Sessions;
            var index = Array.IndexOf(sessions, session);
            if (index < 0) return false;
            if (sessions.Length == 1)
            {
                entry.Sessions = [];
                entry.Dead = true;
                _byBare.TryRemove(new KeyValuePair<Jid, Entry>(session.Jid, entry));
            }
            else
            {
                var copy = new C2sSession[sessions.Length - 1];
                Array.Copy(sessions, 0, copy, 0, index);
                Array.Copy(sessions, index + 1, copy, index, sessions.Length - index - 1);
                entry.Sessions = copy;
            }
            Interlocked.Decrement(ref _count);
            return true;
        }
    }

    /// <summary>The session bound to exactly this full JID, or null.</summary>
    public C2sSession? Find(Jid fullJid)
    {
        if (fullJid.Resource is null || !_byBare.TryGetValue(fullJid, out var entry)) return null;
        foreach (var s in entry.Sessions)
        {
            if (s.Jid.Resource == fullJid.Resource) return s;
        }
        return null;
    }

    /// <summary>All sessions of the account of <paramref name="jid"/> (resource ignored); a snapshot, never null.</summary>
    public C2sSession[] FindAll(Jid jid) => _byBare.TryGetValue(jid, out var entry) ? entry.Sessions : [];

    /// <summary>Every session (a snapshot walk, for heartbeat-free admin use and shutdown).</summary>
    public IEnumerable<C2sSession> All()
    {
        foreach (var pair in _byBare)
        {
            foreach (var s in pair.Value.Sessions) yield return s;
        }
    }

    private sealed class Entry
    {
        public C2sSession[] Sessions = [];
        public bool Dead;
    }
}

/// <summary>Compares JIDs by localpart and domainpart only.</summary>
public sealed class BareJidComparer : IEqualityComparer<Jid>
{
    public static BareJidComparer Instance { get; } = new();

    public bool Equals(Jid? x, Jid? y) =>
        ReferenceEquals(x, y) || (x is not null && y is not null && string.Equals(x.Local, y.Local, StringComparison.Ordinal) && string.Equals(x.Domain, y.Domain, StringComparison.Ordinal));

    public int GetHashCode(Jid obj) => HashCode.Combine(obj.Local is null ? 0 : string.GetHashCode(obj.Local, StringComparison.Ordinal), string.GetHashCode(obj.Domain, StringComparison.Ordinal));
}
