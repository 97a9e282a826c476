using Microsoft.Data.Sqlite;

namespace Tendril.Storage.Sqlite;

/// <summary>
/// <see cref="IPubSubStore"/> over the <c>pubsub_*</c> tables (migration 2). Every query is by primary key or by the
/// <c>(service, node, seq)</c> index; loading a service is four queries whatever its size. Items are ordered by
/// <c>seq</c> (AUTOINCREMENT), so a republished id gets a new, higher seq and becomes the newest.
/// </summary>
internal sealed class SqlitePubSubStore(SqliteStorage storage) : IPubSubStore
{
    private const string ItemColumns = "service, node, item_id, publisher, payload, published_at";

    public async ValueTask<PubSubServiceSnapshot> LoadServiceAsync(string service, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        return await storage.ReadAsync("load pubsub service", connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: true); // one snapshot for the four queries
            var snapshot = Load(connection, service);
            transaction.Commit();
            return snapshot;
        }, cancellationToken);
    }

    /// <summary>Several services in one work item and one snapshot (a local file: four indexed queries per service, no round trips).</summary>
    public async ValueTask<IReadOnlyDictionary<string, PubSubServiceSnapshot>> LoadServicesAsync(IReadOnlyCollection<string> services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);
        var names = services.Distinct(StringComparer.Ordinal).ToArray();
        return await storage.ReadAsync<IReadOnlyDictionary<string, PubSubServiceSnapshot>>("load pubsub services", connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: true);
            var result = new Dictionary<string, PubSubServiceSnapshot>(names.Length, StringComparer.Ordinal);
            foreach (var name in names) result[name] = Load(connection, name);
            transaction.Commit();
            return result;
        }, cancellationToken);
    }

    private static PubSubServiceSnapshot Load(SqliteConnection connection, string service)
    {
        var nodes = new List<PubSubNodeRecord>();
        using (var command = Command(connection, "SELECT node, config, creator, created_at FROM pubsub_nodes WHERE service = $service;", service))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                nodes.Add(new PubSubNodeRecord(service, reader.GetString(0), SqliteMaps.Read(reader.GetString(1)), reader.GetString(2),
                    DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3))));
            }
        }
        var subscriptions = new List<PubSubSubscriptionRecord>();
        using (var command = Command(connection, "SELECT node, jid, subid, state, options FROM pubsub_subscriptions WHERE service = $service;", service))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                subscriptions.Add(new PubSubSubscriptionRecord(service, reader.GetString(0), reader.GetString(1), reader.GetString(2),
                    ParseState(reader.GetString(3)), SqliteMaps.Read(reader.GetString(4))));
            }
        }
        var affiliations = new List<PubSubAffiliationRecord>();
        using (var command = Command(connection, "SELECT node, jid, affiliation FROM pubsub_affiliations WHERE service = $service;", service))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read()) affiliations.Add(new PubSubAffiliationRecord(service, reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }
        var last = new List<PubSubItemRecord>();
        using (var command = Command(connection, $"""
            SELECT {ItemColumns} FROM pubsub_items i
            WHERE i.service = $service
              AND i.seq = (SELECT MAX(seq) FROM pubsub_items WHERE service = i.service AND node = i.node);
            """, service))
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read()) last.Add(ReadItem(reader));
        }
        return new PubSubServiceSnapshot(nodes, subscriptions, affiliations, last);
    }

    public async ValueTask<bool> CreateNodeAsync(PubSubNodeRecord node, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        return await storage.WriteAsync("create pubsub node", connection =>
        {
            using var transaction = connection.BeginTransaction();
            using var command = Command(connection, """
                INSERT INTO pubsub_nodes (service, node, config, creator, created_at) VALUES ($service, $node, $config, $creator, $created_at)
                ON CONFLICT (service, node) DO NOTHING;
                """, node.Service, node.Node);
            command.Transaction = transaction;
            command.Parameters.AddWithValue("$config", SqliteMaps.Write(node.Config));
            command.Parameters.AddWithValue("$creator", node.Creator);
            command.Parameters.AddWithValue("$created_at", node.CreatedAt.ToUnixTimeMilliseconds());
            if (command.ExecuteNonQuery() != 1) return false;
            using var owner = Command(connection, "INSERT INTO pubsub_affiliations (service, node, jid, affiliation) VALUES ($service, $node, $jid, 'owner');", node.Service, node.Node);
            owner.Transaction = transaction;
            owner.Parameters.AddWithValue("$jid", node.Creator);
            owner.ExecuteNonQuery();
            transaction.Commit();
            return true;
        }, cancellationToken);
    }

    public async ValueTask<bool> UpdateNodeConfigAsync(string service, string node, IReadOnlyDictionary<string, IReadOnlyList<string>> config, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        return await storage.WriteAsync("configure pubsub node", connection =>
        {
            using var command = Command(connection, "UPDATE pubsub_nodes SET config = $config WHERE service = $service AND node = $node;", service, node);
            command.Parameters.AddWithValue("$config", SqliteMaps.Write(config));
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);
    }

    public async ValueTask<bool> DeleteNodeAsync(string service, string node, CancellationToken cancellationToken = default) =>
        await storage.WriteAsync("delete pubsub node", connection =>
        {
            // Items, subscriptions and affiliations go with it (ON DELETE CASCADE, foreign_keys = ON).
            using var command = Command(connection, "DELETE FROM pubsub_nodes WHERE service = $service AND node = $node;", service, node);
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public async ValueTask PublishItemAsync(PubSubItemRecord item, int? maxItems, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(item);
        await storage.WriteAsync("publish pubsub item", connection =>
        {
            using var transaction = connection.BeginTransaction();
            using (var delete = Command(connection, "DELETE FROM pubsub_items WHERE service = $service AND node = $node AND item_id = $id;", item.Service, item.Node))
            {
                delete.Transaction = transaction;
                delete.Parameters.AddWithValue("$id", item.ItemId);
                delete.ExecuteNonQuery();
            }
            using (var insert = Command(connection, $"INSERT INTO pubsub_items ({ItemColumns}) VALUES ($service, $node, $id, $publisher, $payload, $at);", item.Service, item.Node))
            {
                insert.Transaction = transaction;
                insert.Parameters.AddWithValue("$id", item.ItemId);
                insert.Parameters.AddWithValue("$publisher", item.Publisher);
                insert.Parameters.AddWithValue("$payload", item.Payload);
                insert.Parameters.AddWithValue("$at", item.PublishedAt.ToUnixTimeMilliseconds());
                insert.ExecuteNonQuery();
            }
            if (maxItems is { } max)
            {
                // Keeps the newest max items: deletes every seq up to the (max+1)-th newest.
                using var trim = Command(connection, """
                    DELETE FROM pubsub_items WHERE service = $service AND node = $node AND seq <= (
                        SELECT seq FROM pubsub_items WHERE service = $service AND node = $node ORDER BY seq DESC LIMIT 1 OFFSET $max);
                    """, item.Service, item.Node);
                trim.Transaction = transaction;
                trim.Parameters.AddWithValue("$max", Math.Max(0, max));
                trim.ExecuteNonQuery();
            }
            transaction.Commit();
            return true;
        }, cancellationToken);
    }

    public async ValueTask<bool> RetractItemAsync(string service, string node, string itemId, CancellationToken cancellationToken = default) =>
        await storage.WriteAsync("retract pubsub item", connection =>
        {
            using var command = Command(connection, "DELETE FROM pubsub_items WHERE service = $service AND node = $node AND item_id = $id;", service, node);
            command.Parameters.AddWithValue("$id", itemId);
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public async ValueTask PurgeItemsAsync(string service, string node, CancellationToken cancellationToken = default) =>
        await storage.WriteAsync("purge pubsub node", connection =>
        {
            using var command = Command(connection, "DELETE FROM pubsub_items WHERE service = $service AND node = $node;", service, node);
            return command.ExecuteNonQuery();
        }, cancellationToken);

    public async ValueTask<PubSubItemPage> GetItemsAsync(string service, string node, int? max, string? after = null, string? before = null, CancellationToken cancellationToken = default) =>
        await storage.ReadAsync("get pubsub items", connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: true);
            int count;
            using (var countCommand = Command(connection, "SELECT COUNT(*) FROM pubsub_items WHERE service = $service AND node = $node;", service, node))
            {
                count = Convert.ToInt32(countCommand.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            }
            var limit = max ?? -1; // SQLite: LIMIT -1 is no limit
            string sql;
            if (before is not null)
            {
                // The page just newer than 'before' (or the oldest page for ''): read ascending, then reverse.
                var bound = before.Length == 0 ? "" : "AND seq > (SELECT seq FROM pubsub_items WHERE service = $service AND node = $node AND item_id = $ref)";
                sql = $"SELECT {ItemColumns} FROM pubsub_items WHERE service = $service AND node = $node {bound} ORDER BY seq ASC LIMIT $limit;";
            }
            else
            {
                var bound = after is null ? "" : "AND seq < (SELECT seq FROM pubsub_items WHERE service = $service AND node = $node AND item_id = $ref)";
                sql = $"SELECT {ItemColumns} FROM pubsub_items WHERE service = $service AND node = $node {bound} ORDER BY seq DESC LIMIT $limit;";
            }
            using var command = Command(connection, sql, service, node);
            command.Parameters.AddWithValue("$limit", limit);
            command.Parameters.AddWithValue("$ref", (object?)(before ?? after) ?? DBNull.Value);
            using var reader = command.ExecuteReader();
            var items = new List<PubSubItemRecord>();
            while (reader.Read()) items.Add(ReadItem(reader));
            if (before is not null) items.Reverse();
            transaction.Commit();
            return new PubSubItemPage(items, count);
        }, cancellationToken);

    public async ValueTask<IReadOnlyList<PubSubItemRecord>> GetItemsByIdAsync(string service, string node, IReadOnlyCollection<string> itemIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(itemIds);
        if (itemIds.Count == 0) return [];
        var ids = itemIds.ToArray();
        return await storage.ReadAsync<IReadOnlyList<PubSubItemRecord>>("get pubsub items by id", connection =>
        {
            var names = string.Join(", ", ids.Select((_, i) => "$id" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            using var command = Command(connection, $"SELECT {ItemColumns} FROM pubsub_items WHERE service = $service AND node = $node AND item_id IN ({names}) ORDER BY seq DESC;", service, node);
            for (var i = 0; i < ids.Length; i++) command.Parameters.AddWithValue("$id" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), ids[i]);
            using var reader = command.ExecuteReader();
            var items = new List<PubSubItemRecord>();
            while (reader.Read()) items.Add(ReadItem(reader));
            return items;
        }, cancellationToken);
    }

    public async ValueTask SetSubscriptionAsync(PubSubSubscriptionRecord subscription, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        await storage.WriteAsync("set pubsub subscription", connection =>
        {
            using var command = Command(connection, """
                INSERT INTO pubsub_subscriptions (service, node, jid, subid, state, options) VALUES ($service, $node, $jid, $subid, $state, $options)
                ON CONFLICT (service, node, jid, subid) DO UPDATE SET state = excluded.state, options = excluded.options;
                """, subscription.Service, subscription.Node);
            command.Parameters.AddWithValue("$jid", subscription.Jid);
            command.Parameters.AddWithValue("$subid", subscription.SubId);
            command.Parameters.AddWithValue("$state", StateName(subscription.State));
            command.Parameters.AddWithValue("$options", SqliteMaps.Write(subscription.Options));
            return command.ExecuteNonQuery();
        }, cancellationToken);
    }

    public async ValueTask<bool> RemoveSubscriptionAsync(string service, string node, string jid, string subId, CancellationToken cancellationToken = default) =>
        await storage.WriteAsync("remove pubsub subscription", connection =>
        {
            using var command = Command(connection, "DELETE FROM pubsub_subscriptions WHERE service = $service AND node = $node AND jid = $jid AND subid = $subid;", service, node);
            command.Parameters.AddWithValue("$jid", jid);
            command.Parameters.AddWithValue("$subid", subId);
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);

    public async ValueTask SetAffiliationAsync(string service, string node, string jid, string affiliation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(affiliation);
        await storage.WriteAsync("set pubsub affiliation", connection =>
        {
            using var command = Command(connection, affiliation == "none"
                ? "DELETE FROM pubsub_affiliations WHERE service = $service AND node = $node AND jid = $jid;"
                : """
                  INSERT INTO pubsub_affiliations (service, node, jid, affiliation) VALUES ($service, $node, $jid, $affiliation)
                  ON CONFLICT (service, node, jid) DO UPDATE SET affiliation = excluded.affiliation;
                  """, service, node);
            command.Parameters.AddWithValue("$jid", jid);
            if (affiliation != "none") command.Parameters.AddWithValue("$affiliation", affiliation);
            return command.ExecuteNonQuery();
        }, cancellationToken);
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, string service, string? node = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$service", service);
        if (node is not null) command.Parameters.AddWithValue("$node", node);
        return command;
    }

    private static PubSubItemRecord ReadItem(SqliteDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(5)));

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
