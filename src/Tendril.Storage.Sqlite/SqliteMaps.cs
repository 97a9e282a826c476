using System.Text.Json;

namespace Tendril.Storage.Sqlite;

/// <summary>The JSON column format of configuration maps (field var → values): pubsub nodes, rooms.</summary>
internal static class SqliteMaps
{
    public static string Write(IReadOnlyDictionary<string, IReadOnlyList<string>> map) =>
        JsonSerializer.Serialize(map.ToDictionary(p => p.Key, p => p.Value.ToArray()));

    public static Dictionary<string, IReadOnlyList<string>> Read(string json)
    {
        var raw = JsonSerializer.Deserialize<Dictionary<string, string[]>>(json) ?? [];
        return raw.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value, StringComparer.Ordinal);
    }
}
