using System.Collections.Concurrent;
using System.Text.Json;
using Tendril.Protocol;
using Tendril.Server.Cluster;
using Tendril.Server.Routing;

namespace Tendril.Cluster;

/// <summary>
/// This node's replica of the other nodes' part of the routing table, per bare JID. Lookups on the routing path are a
/// dictionary read of an immutable array (no lock, no allocation, no Redis round trip). Writes come from the events
/// channel and from snapshots; each account entry carries the version Redis gave its last write, and an older state never
/// replaces a newer one, whatever order the events channel and a snapshot deliver them in.
/// </summary>
internal sealed class RemoteSessionMirror(string self, Func<string, object?> route)
{
    private readonly ConcurrentDictionary<Jid, Entry> _byBare = new(BareJidComparer.Instance);
    private readonly Lock _writeGate = new();
    private long _maxVersion;

    /// <summary>The highest version applied so far.</summary>
    public long MaxVersion => Volatile.Read(ref _maxVersion);

    public int AccountCount => _byBare.Count;

    public RemoteSession[] FindAll(Jid jid) => _byBare.TryGetValue(jid, out var e) ? e.Sessions : [];

    public RemoteSession? Find(Jid full)
    {
        if (full.Resource is null || !_byBare.TryGetValue(full, out var e)) return null;
        foreach (var s in e.Sessions)
        {
            if (s.Jid.Resource == full.Resource) return s;
        }
        return null;
    }

    /// <summary>Every remote session (diagnostics, tests).</summary>
    public IEnumerable<RemoteSession> All() => _byBare.Values.SelectMany(e => e.Sessions);

    /// <summary>Applies one events-channel message: <c>{"b": bare, "v": version, "s": [field, value, …]}</c> (HGETALL order).</summary>
    public bool ApplyEvent(ReadOnlySpan<byte> json)
    {
        string? bare = null;
        long version = 0;
        List<string>? flat = null;
        var reader = new Utf8JsonReader(json);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                switch (name)
                {
                    case "b":
                        bare = reader.GetString();
                        break;
                    case "v":
                        version = reader.GetInt64();
                        break;
                    case "s":
                        flat = [];
                        if (reader.TokenType == JsonTokenType.StartArray)
                        {
                            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) flat.Add(reader.GetString() ?? "");
                        }
                        else reader.Skip(); // cjson encodes an empty table as {}
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }
        if (bare is null || !Jid.TryParse(bare, out var jid)) return false;
        Apply(jid, version, flat ?? []);
        return true;
    }

    /// <summary>Applies an account's state (HGETALL field/value pairs, "#v" among them) unless a newer one is already here.</summary>
    public void Apply(Jid bare, long version, IReadOnlyList<string> flat)
    {
        var sessions = new List<RemoteSession>();
        for (var i = 0; i + 1 < flat.Count; i += 2)
        {
            var field = flat[i];
            if (field.StartsWith('#')) continue;
            if (!SessionRecord.TryDecode(flat[i + 1], out var record) || record.Node == self) continue;
            Jid full;
            try
            {
                full = bare.WithResource(field);
            }
            catch (FormatException)
            {
                continue;
            }
            sessions.Add(new RemoteSession(full, record.Node, record.Priority, record.Available, StanzaBytes.Parse(record.PresenceXml)) { Route = route(record.Node) });
        }
        var entry = new Entry(version, [.. sessions]);
        lock (_writeGate)
        {
            if (version > _maxVersion) Volatile.Write(ref _maxVersion, version);
            if (_byBare.TryGetValue(bare, out var current) && current.Version >= version) return;
            _byBare[bare.Bare] = entry;
        }
    }

    /// <summary>
    /// Drops every session of <paramref name="node"/> (declared dead) at once, keeping each entry's version: the purge's
    /// own events carry newer versions and still apply; older events for the node are refused as before. A node that
    /// comes back under the same id re-publishes its sessions with newer versions.
    /// </summary>
    public int RemoveNode(string node)
    {
        var removed = 0;
        lock (_writeGate)
        {
            foreach (var (jid, entry) in _byBare)
            {
                var keep = 0;
                foreach (var s in entry.Sessions) if (s.NodeId != node) keep++;
                if (keep == entry.Sessions.Length) continue;
                var sessions = new RemoteSession[keep];
                var i = 0;
                foreach (var s in entry.Sessions) if (s.NodeId != node) sessions[i++] = s;
                removed += entry.Sessions.Length - keep;
                _byBare[jid] = entry with { Sessions = sessions };
            }
        }
        return removed;
    }

    /// <summary>After a snapshot taken from <paramref name="snapshotStart"/>: drops entries the snapshot did not contain and no newer event wrote.</summary>
    public void RemoveStale(HashSet<Jid> seen, long snapshotStart)
    {
        lock (_writeGate)
        {
            foreach (var (jid, entry) in _byBare)
            {
                if (!seen.Contains(jid) && entry.Version <= snapshotStart) _byBare.TryRemove(jid, out _);
            }
        }
    }

    /// <summary>Drops empty (tombstone) entries older than <paramref name="version"/> to bound memory.</summary>
    public void Compact(long version)
    {
        lock (_writeGate)
        {
            foreach (var (jid, entry) in _byBare)
            {
                if (entry.Sessions.Length == 0 && entry.Version <= version) _byBare.TryRemove(jid, out _);
            }
        }
    }

    private sealed record Entry(long Version, RemoteSession[] Sessions);
}
