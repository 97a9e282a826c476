using System.Text.Json;
using System.Text.Json.Serialization;
using Npgsql;

namespace Tendril.Storage.Postgres;

/// <summary>
/// <see cref="IPubSubStore"/> over the <c>pubsub_*</c> tables. Loading a service — or many, such as the PEP services of
/// a user's contacts at login — is one round trip whatever their number and size: four queries in one batch inside a
/// repeatable-read, read-only transaction (one snapshot). Items are ordered by
/// <c>seq</c>; republishing an id gives the row a new <c>seq</c> from the sequence, so it becomes the newest. A publish
/// locks the node's row first, so concurrent publishes to one node (from any node of a cluster) replace and trim in
/// turn, as SQLite's single writer does.
/// </summary>
internal sealed class PostgresPubSubStore(PostgresStorage storage) : IPubSubStore
{
    private const string ItemColumns = "service, node, item_id, publisher, payload, published_at";

    public async ValueTask<PubSubServiceSnapshot> LoadServiceAsync(string service, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        return (await LoadServicesAsync([service], cancellationToken).ConfigureAwait(false))[service];
    }

    public async ValueTask<IReadOnlyDictionary<string, PubSubServiceSnapshot>> LoadServicesAsync(IReadOnlyCollection<string> services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);
        var names = services.Distinct(StringComparer.Ordinal).ToArray();
        if (names.Length == 0) return new Dictionary<string, PubSubServiceSnapshot>(StringComparer.Ordinal);
        return await storage.RunAsync("load pubsub services", async connection =>
        {
            // One round trip and one snapshot for any number of services: four queries over an array parameter,
            // between BEGIN (repeatable read) and COMMIT in the same batch.
            await using var batch = new NpgsqlBatch(connection);
            batch.BatchCommand("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;");
            batch.BatchCommand("SELECT service, node, config, creator, created_at FROM pubsub_nodes WHERE service = ANY($1);").Parameters.Param(names);
            batch.BatchCommand("SELECT service, node, jid, subid, state, options FROM pubsub_subscriptions WHERE service = ANY($1);").Parameters.Param(names);
            batch.BatchCommand("SELECT service, node, jid, affiliation FROM pubsub_affiliations WHERE service = ANY($1);").Parameters.Param(names);
            batch.BatchCommand($"""
                SELECT DISTINCT ON (service, node) {ItemColumns} FROM pubsub_items WHERE service = ANY($1) ORDER BY service, node, seq DESC;
                """).Parameters.Param(names);
            batch.BatchCommand("COMMIT;");
            try
            {
                return await ReadServicesAsync(batch, names).ConfigureAwait(false);
            }
            catch (PostgresException)
            {
                // A statement failed after BEGIN: COMMIT was skipped and the transaction is aborted. End it here, so
                // the connection goes back to the pool idle.
                await using var rollback = connection.Command("ROLLBACK;");
                await rollback.ExecuteNonQueryAsync().ConfigureAwait(false);
                throw;
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyDictionary<string, PubSubServiceSnapshot>> ReadServicesAsync(NpgsqlBatch batch, string[] names)
    {
        var nodes = new Dictionary<string, List<PubSubNodeRecord>>(StringComparer.Ordinal);
        var subscriptions = new Dictionary<string, List<PubSubSubscriptionRecord>>(StringComparer.Ordinal);
        var affiliations = new Dictionary<string, List<PubSubAffiliationRecord>>(StringComparer.Ordinal);
        var last = new Dictionary<string, List<PubSubItemRecord>>(StringComparer.Ordinal);
        await using (var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false))
        {
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                var service = reader.GetString(0);
                For(nodes, service).Add(new PubSubNodeRecord(service, reader.GetString(1), PostgresMaps.Read(reader.GetString(2)), reader.GetString(3),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4))));
            }
            await reader.NextResultAsync().ConfigureAwait(false);
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                var service = reader.GetString(0);
                For(subscriptions, service).Add(new PubSubSubscriptionRecord(service, reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    ParseState(reader.GetString(4)), PostgresMaps.Read(reader.GetString(5))));
            }
            await reader.NextResultAsync().ConfigureAwait(false);
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                var service = reader.GetString(0);
                For(affiliations, service).Add(new PubSubAffiliationRecord(service, reader.GetString(1), reader.GetString(2), reader.GetString(3)));
            }
            await reader.NextResultAsync().ConfigureAwait(false);
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                var item = ReadItem(reader);
                For(last, item.Service).Add(item);
            }
            while (await reader.NextResultAsync().ConfigureAwait(false)) { }
        }
        var result = new Dictionary<string, PubSubServiceSnapshot>(names.Length, StringComparer.Ordinal);
        foreach (var name in names)
        {
            result[name] = new PubSubServiceSnapshot(
                nodes.TryGetValue(name, out var n) ? n : [],
                subscriptions.TryGetValue(name, out var s) ? s : [],
                affiliations.TryGetValue(name, out var a) ? a : [],
                last.TryGetValue(name, out var l) ? l : []);
        }
        return result;
    }

    private static List<T> For<T>(Dictionary<string, List<T>> map, string service)
    {
        if (!map.TryGetValue(service, out var list)) map[service] = list = [];
        return list;
    }

    public async ValueTask<bool> CreateNodeAsync(PubSubNodeRecord node, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(node.Service);
        ArgumentNullException.ThrowIfNull(node.Node);
        var config = PostgresMaps.Write(node.Config);
        return await storage.RunAsync("create pubsub node", async connection =>
        {
            // One statement: the node and its creator's owner affiliation, or nothing when the node exists.
            await using var command = connection.Command("""
                WITH created AS (
                    INSERT INTO pubsub_nodes (service, node, config, creator, created_at) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (service, node) DO NOTHING
                    RETURNING service, node)
                INSERT INTO pubsub_affiliations (service, node, jid, affiliation) SELECT service, node, $4, 'owner' FROM created;
                """);
            command.Parameters.Param(node.Service).Param(node.Node).Param(config).Param(node.Creator).Param(node.CreatedAt.ToUnixTimeMilliseconds());
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false) == 1;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> UpdateNodeConfigAsync(string service, string node, IReadOnlyDictionary<string, IReadOnlyList<string>> config, CancellationToken cancellationToken = default)
    {
        Check(service, node);
        ArgumentNullException.ThrowIfNull(config);
        var json = PostgresMaps.Write(config);
        return await storage.RunAsync("configure pubsub node", async connection =>
        {
            await using var command = connection.Command("UPDATE pubsub_nodes SET config = $3 WHERE service = $1 AND node = $2;");
            command.Parameters.Param(service).Param(node).Param(json);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false) == 1;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> DeleteNodeAsync(string service, string node, CancellationToken cancellationToken = default)
    {
        Check(service, node);
        return await storage.RunAsync("delete pubsub node", async connection =>
        {
            // Items, subscriptions and affiliations go with it (ON DELETE CASCADE).
            await using var command = connection.Command("DELETE FROM pubsub_nodes WHERE service = $1 AND node = $2;");
            command.Parameters.Param(service).Param(node);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false) == 1;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask PublishItemAsync(PubSubItemRecord item, int? maxItems, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        Check(item.Service, item.Node);
        await storage.RunAsync("publish pubsub item", async connection =>
        {
            await using var batch = new NpgsqlBatch(connection);
            batch.BatchCommand("SELECT 1 FROM pubsub_nodes WHERE service = $1 AND node = $2 FOR NO KEY UPDATE;").Parameters.Param(item.Service).Param(item.Node);
            // A missing node fails the foreign key: StorageException, as with SQLite.
            batch.BatchCommand($"""
                INSERT INTO pubsub_items ({ItemColumns}) VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (service, node, item_id) DO UPDATE SET
                    seq = nextval('pubsub_items_seq_seq'), publisher = excluded.publisher,
                    payload = excluded.payload, published_at = excluded.published_at;
                """).Parameters.Param(item.Service).Param(item.Node).Param(item.ItemId).Param(item.Publisher).Param(item.Payload)
                .Param(item.PublishedAt.ToUnixTimeMilliseconds());
            if (maxItems is { } max)
            {
                // Keeps the newest max items: deletes every seq up to the (max+1)-th newest.
                batch.BatchCommand("""
                    DELETE FROM pubsub_items WHERE service = $1 AND node = $2 AND seq <= (
                        SELECT seq FROM pubsub_items WHERE service = $1 AND node = $2 ORDER BY seq DESC LIMIT 1 OFFSET $3);
                    """).Parameters.Param(item.Service).Param(item.Node).Param((long)Math.Max(0, max));
            }
            return await batch.ExecuteNonQueryAsync().ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> RetractItemAsync(string service, string node, string itemId, CancellationToken cancellationToken = default)
    {
        Check(service, node);
        ArgumentNullException.ThrowIfNull(itemId);
        return await storage.RunAsync("retract pubsub item", async connection =>
        {
            await using var command = connection.Command("DELETE FROM pubsub_items WHERE service = $1 AND node = $2 AND item_id = $3;");
            command.Parameters.Param(service).Param(node).Param(itemId);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false) == 1;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask PurgeItemsAsync(string service, string node, CancellationToken cancellationToken = default)
    {
        Check(service, node);
        await storage.RunAsync("purge pubsub node", async connection =>
        {
            await using var command = connection.Command("DELETE FROM pubsub_items WHERE service = $1 AND node = $2;");
            command.Parameters.Param(service).Param(node);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<PubSubItemPage> GetItemsAsync(string service, string node, int? max, string? after = null, string? before = null, CancellationToken cancellationToken = default)
    {
        Check(service, node);
        string bound, order;
        if (before is not null)
        {
            // The page just newer than 'before' (or the oldest page for ''): read ascending, then reverse.
            bound = before.Length == 0 ? "" : "AND seq > (SELECT seq FROM pubsub_items WHERE service = $1 AND node = $2 AND item_id = $4)";
            order = "ASC";
        }
        else
        {
            bound = after is null ? "" : "AND seq < (SELECT seq FROM pubsub_items WHERE service = $1 AND node = $2 AND item_id = $4)";
            order = "DESC";
        }
        // One statement (one snapshot): the node's count, and the page joined to it (no page row: one row of nulls).
        var sql = $"""
            SELECT c.n, p.service, p.node, p.item_id, p.publisher, p.payload, p.published_at
            FROM (SELECT COUNT(*) AS n FROM pubsub_items WHERE service = $1 AND node = $2) c
            LEFT JOIN LATERAL (
                SELECT seq, {ItemColumns} FROM pubsub_items WHERE service = $1 AND node = $2 {bound} ORDER BY seq {order} LIMIT $3
            ) p ON true
            ORDER BY p.seq {order};
            """;
        return await storage.RunAsync("get pubsub items", async connection =>
        {
            await using var command = connection.Command(sql);
            command.Parameters.Param(service).Param(node);
            command.Parameters.Add(new NpgsqlParameter { Value = max is { } m ? (long)m : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Bigint });
            command.Parameters.ParamNullableText(before ?? after);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            var count = 0;
            var items = new List<PubSubItemRecord>();
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                count = (int)reader.GetInt64(0);
                if (!reader.IsDBNull(1)) items.Add(ReadItem(reader, 1));
            }
            if (before is not null) items.Reverse();
            return new PubSubItemPage(items, count);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<PubSubItemRecord>> GetItemsByIdAsync(string service, string node, IReadOnlyCollection<string> itemIds, CancellationToken cancellationToken = default)
    {
        Check(service, node);
        ArgumentNullException.ThrowIfNull(itemIds);
        if (itemIds.Count == 0) return [];
        var ids = itemIds as string[] ?? [.. itemIds];
        return await storage.RunAsync<IReadOnlyList<PubSubItemRecord>>("get pubsub items by id", async connection =>
        {
            await using var command = connection.Command($"SELECT {ItemColumns} FROM pubsub_items WHERE service = $1 AND node = $2 AND item_id = ANY($3) ORDER BY seq DESC;");
            command.Parameters.Param(service).Param(node).Param(ids);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            var items = new List<PubSubItemRecord>();
            while (await reader.ReadAsync().ConfigureAwait(false)) items.Add(ReadItem(reader));
            return items;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask SetSubscriptionAsync(PubSubSubscriptionRecord subscription, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        Check(subscription.Service, subscription.Node);
        var options = PostgresMaps.Write(subscription.Options);
        await storage.RunAsync("set pubsub subscription", async connection =>
        {
            await using var command = connection.Command("""
                INSERT INTO pubsub_subscriptions (service, node, jid, subid, state, options) VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (service, node, jid, subid) DO UPDATE SET state = excluded.state, options = excluded.options;
                """);
            command.Parameters.Param(subscription.Service).Param(subscription.Node).Param(subscription.Jid).Param(subscription.SubId)
                .Param(StateName(subscription.State)).Param(options);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> RemoveSubscriptionAsync(string service, string node, string jid, string subId, CancellationToken cancellationToken = default)
    {
        Check(service, node);
        ArgumentNullException.ThrowIfNull(jid);
        ArgumentNullException.ThrowIfNull(subId);
        return await storage.RunAsync("remove pubsub subscription", async connection =>
        {
            await using var command = connection.Command("DELETE FROM pubsub_subscriptions WHERE service = $1 AND node = $2 AND jid = $3 AND subid = $4;");
            command.Parameters.Param(service).Param(node).Param(jid).Param(subId);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false) == 1;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask SetAffiliationAsync(string service, string node, string jid, string affiliation, CancellationToken cancellationToken = default)
    {
        Check(service, node);
        ArgumentNullException.ThrowIfNull(jid);
        ArgumentNullException.ThrowIfNull(affiliation);
        await storage.RunAsync("set pubsub affiliation", async connection =>
        {
            NpgsqlCommand command;
            if (affiliation == "none")
            {
                command = connection.Command("DELETE FROM pubsub_affiliations WHERE service = $1 AND node = $2 AND jid = $3;");
                command.Parameters.Param(service).Param(node).Param(jid);
            }
            else
            {
                command = connection.Command("""
                    INSERT INTO pubsub_affiliations (service, node, jid, affiliation) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (service, node, jid) DO UPDATE SET affiliation = excluded.affiliation;
                    """);
                command.Parameters.Param(service).Param(node).Param(jid).Param(affiliation);
            }
            await using (command)
            {
                return await command.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    private static void Check(string service, string node)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(node);
    }

    private static PubSubItemRecord ReadItem(NpgsqlDataReader reader, int first = 0) => new(
        reader.GetString(first), reader.GetString(first + 1), reader.GetString(first + 2), reader.GetString(first + 3), reader.GetString(first + 4),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(first + 5)));

    private static string StateName(PubSubSubscriptionState state) => state switch
    {
        PubSubSubscriptionState.Pending => "pending",
        PubSubSubscriptionState.Unconfigured => "unconfigured",
        _ => "subscribed",
    };

    private static PubSubSubscriptionState ParseState(string state) => state switch
    {
        "pending" => PubSubSubscriptionState.Pending,
        "unconfigured" => PubSubSubscriptionState.Unconfigured,
        _ => PubSubSubscriptionState.Subscribed,
    };
}

[JsonSerializable(typeof(Dictionary<string, string[]>))]
internal sealed partial class PostgresJson : JsonSerializerContext;

/// <summary>The JSON column format of configuration maps (field var → values): pubsub nodes, rooms.</summary>
internal static class PostgresMaps
{
    public static string Write(IReadOnlyDictionary<string, IReadOnlyList<string>> map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var plain = new Dictionary<string, string[]>(map.Count, StringComparer.Ordinal);
        foreach (var (key, values) in map) plain[key] = values as string[] ?? [.. values];
        return JsonSerializer.Serialize(plain, PostgresJson.Default.DictionaryStringStringArray);
    }

    public static Dictionary<string, IReadOnlyList<string>> Read(string json)
    {
        var raw = JsonSerializer.Deserialize(json, PostgresJson.Default.DictionaryStringStringArray) ?? [];
        var map = new Dictionary<string, IReadOnlyList<string>>(raw.Count, StringComparer.Ordinal);
        foreach (var (key, values) in raw) map[key] = values;
        return map;
    }
}
