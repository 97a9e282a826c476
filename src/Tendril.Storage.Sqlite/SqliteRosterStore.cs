using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Tendril.Storage.Sqlite;

/// <summary>
/// <see cref="IRosterStore"/> over <c>roster_items</c>, <c>roster_versions</c>, <c>roster_removed</c> and
/// <c>roster_pending_in</c>. A change to an item, the version bump and the item's version (or its removal record) happen
/// in one transaction on the writer thread.
/// </summary>
internal sealed class SqliteRosterStore(SqliteStorage storage) : IRosterStore
{
    private const string ItemColumns = "jid, name, subscription, ask, approved, groups";

    public async ValueTask<RosterSnapshot> GetAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        return await storage.ReadAsync("get roster", connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: true);
            var version = ReadVersion(connection, transaction, domain, username);
            using var command = SqliteStorage.Command(connection, $"SELECT {ItemColumns} FROM roster_items WHERE domain = $domain AND username = $username ORDER BY jid;", domain, username, transaction: transaction);
            using var reader = command.ExecuteReader();
            var items = new List<RosterItem>();
            while (reader.Read()) items.Add(ReadItem(reader));
            return new RosterSnapshot(version, items);
        }, cancellationToken);
    }

    public async ValueTask<RosterItem?> GetItemAsync(string domain, string username, string jid, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(jid);
        return await storage.ReadAsync("get roster item", connection =>
        {
            using var command = SqliteStorage.Command(connection, $"SELECT {ItemColumns} FROM roster_items WHERE domain = $domain AND username = $username AND jid = $jid;", domain, username);
            command.Parameters.AddWithValue("$jid", jid);
            using var reader = command.ExecuteReader();
            return reader.Read() ? ReadItem(reader) : null;
        }, cancellationToken);
    }

    public async ValueTask<(int Items, int Pending)> CountAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        return await storage.ReadAsync("count roster", connection =>
        {
            using var command = SqliteStorage.Command(connection,
                "SELECT (SELECT COUNT(*) FROM roster_items WHERE domain = $domain AND username = $username), (SELECT COUNT(*) FROM roster_pending_in WHERE domain = $domain AND username = $username);",
                domain, username);
            using var reader = command.ExecuteReader();
            reader.Read();
            return (reader.GetInt32(0), reader.GetInt32(1));
        }, cancellationToken);
    }

    public async ValueTask<long> GetVersionAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        return await storage.ReadAsync("get roster version", connection => ReadVersion(connection, null, domain, username), cancellationToken);
    }

    public async ValueTask<RosterDelta?> GetChangesSinceAsync(string domain, string username, long since, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        return await storage.ReadAsync<RosterDelta?>("get roster changes", connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: true);
            var (version, horizon) = ReadVersionAndHorizon(connection, transaction, domain, username);
            if (since > version || since < horizon) return null;
            var changes = new List<RosterChange>();
            using (var command = SqliteStorage.Command(connection, $"SELECT {ItemColumns}, version FROM roster_items WHERE domain = $domain AND username = $username AND version > $since;", domain, username, transaction: transaction))
            {
                command.Parameters.AddWithValue("$since", since);
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    var item = ReadItem(reader);
                    changes.Add(new RosterChange(reader.GetInt64(6), item.Jid, item));
                }
            }
            using (var command = SqliteStorage.Command(connection, "SELECT jid, version FROM roster_removed WHERE domain = $domain AND username = $username AND version > $since;", domain, username, transaction: transaction))
            {
                command.Parameters.AddWithValue("$since", since);
                using var reader = command.ExecuteReader();
                while (reader.Read()) changes.Add(new RosterChange(reader.GetInt64(1), reader.GetString(0), null));
            }
            changes.Sort(static (a, b) => a.Version.CompareTo(b.Version));
            return new RosterDelta(version, changes);
        }, cancellationToken);
    }

    public async ValueTask<long> SetItemAsync(string domain, string username, RosterItem item, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(item);
        var groups = JsonSerializer.Serialize(item.Groups, SqliteJson.Default.IReadOnlyListString);
        return await storage.WriteAsync("set roster item", connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            var version = BumpVersion(connection, transaction, domain, username);
            using (var command = SqliteStorage.Command(connection, $"""
                    INSERT INTO roster_items (domain, username, {ItemColumns}, version)
                    VALUES ($domain, $username, $jid, $name, $subscription, $ask, $approved, $groups, $version)
                    ON CONFLICT (domain, username, jid) DO UPDATE SET
                        name = excluded.name, subscription = excluded.subscription, ask = excluded.ask,
                        approved = excluded.approved, groups = excluded.groups, version = excluded.version;
                    DELETE FROM roster_removed WHERE domain = $domain AND username = $username AND jid = $jid;
                    """, domain, username, transaction))
            {
                command.Parameters.AddWithValue("$jid", item.Jid);
                command.Parameters.AddWithValue("$name", (object?)item.Name ?? DBNull.Value);
                command.Parameters.AddWithValue("$subscription", (int)item.Subscription);
                command.Parameters.AddWithValue("$ask", item.Ask ? 1 : 0);
                command.Parameters.AddWithValue("$approved", item.Approved ? 1 : 0);
                command.Parameters.AddWithValue("$groups", groups);
                command.Parameters.AddWithValue("$version", version);
                command.ExecuteNonQuery();
            }
            transaction.Commit();
            return version;
        }, cancellationToken);
    }

    public async ValueTask<long?> RemoveItemAsync(string domain, string username, string jid, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(jid);
        return await storage.WriteAsync<long?>("remove roster item", connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using (var command = SqliteStorage.Command(connection, "DELETE FROM roster_items WHERE domain = $domain AND username = $username AND jid = $jid;", domain, username, transaction))
            {
                command.Parameters.AddWithValue("$jid", jid);
                if (command.ExecuteNonQuery() == 0) return null;
            }
            var version = BumpVersion(connection, transaction, domain, username);
            // The removal is kept for deltas (RFC 6121 §2.6.3 pushes it as subscription='remove'); beyond RemovalsKept
            // the oldest are forgotten and the horizon moves past them, so an older client version gets the full roster.
            using (var command = SqliteStorage.Command(connection, """
                    INSERT INTO roster_removed (domain, username, jid, version) VALUES ($domain, $username, $jid, $version)
                    ON CONFLICT (domain, username, jid) DO UPDATE SET version = excluded.version;
                    UPDATE roster_versions SET horizon = max(horizon, (
                        SELECT version FROM roster_removed WHERE domain = $domain AND username = $username
                        ORDER BY version DESC LIMIT 1 OFFSET $kept))
                    WHERE domain = $domain AND username = $username AND (
                        SELECT count(*) FROM roster_removed WHERE domain = $domain AND username = $username) > $kept;
                    DELETE FROM roster_removed WHERE domain = $domain AND username = $username
                        AND version <= (SELECT horizon FROM roster_versions WHERE domain = $domain AND username = $username);
                    """, domain, username, transaction))
            {
                command.Parameters.AddWithValue("$jid", jid);
                command.Parameters.AddWithValue("$version", version);
                command.Parameters.AddWithValue("$kept", IRosterStore.RemovalsKept);
                command.ExecuteNonQuery();
            }
            transaction.Commit();
            return version;
        }, cancellationToken);
    }

    public async ValueTask SetPendingAsync(string domain, string username, PendingSubscription pending, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(pending);
        await storage.WriteAsync("set pending subscription", connection =>
        {
            using var command = SqliteStorage.Command(connection, """
                INSERT INTO roster_pending_in (domain, username, jid, stanza, received_at)
                VALUES ($domain, $username, $jid, $stanza, $received_at)
                ON CONFLICT (domain, username, jid) DO UPDATE SET stanza = excluded.stanza;
                """, domain, username);
            command.Parameters.AddWithValue("$jid", pending.Jid);
            command.Parameters.AddWithValue("$stanza", pending.Stanza);
            command.Parameters.AddWithValue("$received_at", pending.ReceivedAt.ToUnixTimeMilliseconds());
            return command.ExecuteNonQuery();
        }, cancellationToken);
    }

    public async ValueTask<bool> RemovePendingAsync(string domain, string username, string jid, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(jid);
        return await storage.WriteAsync("remove pending subscription", connection =>
        {
            using var command = SqliteStorage.Command(connection, "DELETE FROM roster_pending_in WHERE domain = $domain AND username = $username AND jid = $jid;", domain, username);
            command.Parameters.AddWithValue("$jid", jid);
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);
    }

    public async ValueTask<PendingSubscription?> GetPendingAsync(string domain, string username, string jid, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(jid);
        return await storage.ReadAsync("get pending subscription", connection =>
        {
            using var command = SqliteStorage.Command(connection, "SELECT jid, stanza, received_at FROM roster_pending_in WHERE domain = $domain AND username = $username AND jid = $jid;", domain, username);
            command.Parameters.AddWithValue("$jid", jid);
            using var reader = command.ExecuteReader();
            return reader.Read() ? ReadPending(reader) : null;
        }, cancellationToken);
    }

    public async ValueTask<IReadOnlyList<PendingSubscription>> ListPendingAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        return await storage.ReadAsync<IReadOnlyList<PendingSubscription>>("list pending subscriptions", connection =>
        {
            using var command = SqliteStorage.Command(connection, "SELECT jid, stanza, received_at FROM roster_pending_in WHERE domain = $domain AND username = $username ORDER BY received_at, jid;", domain, username);
            using var reader = command.ExecuteReader();
            var list = new List<PendingSubscription>();
            while (reader.Read()) list.Add(ReadPending(reader));
            return list;
        }, cancellationToken);
    }

    private static long ReadVersion(SqliteConnection connection, SqliteTransaction? transaction, string domain, string username)
    {
        using var command = SqliteStorage.Command(connection, "SELECT version FROM roster_versions WHERE domain = $domain AND username = $username;", domain, username, transaction: transaction);
        var value = command.ExecuteScalar();
        return value is null or DBNull ? 0 : Convert.ToInt64(value, CultureInfo.InvariantCulture);
    }

    private static (long Version, long Horizon) ReadVersionAndHorizon(SqliteConnection connection, SqliteTransaction? transaction, string domain, string username)
    {
        using var command = SqliteStorage.Command(connection, "SELECT version, horizon FROM roster_versions WHERE domain = $domain AND username = $username;", domain, username, transaction: transaction);
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }

    private static long BumpVersion(SqliteConnection connection, SqliteTransaction transaction, string domain, string username)
    {
        using var command = SqliteStorage.Command(connection, """
            INSERT INTO roster_versions (domain, username, version) VALUES ($domain, $username, 1)
            ON CONFLICT (domain, username) DO UPDATE SET version = version + 1
            RETURNING version;
            """, domain, username, transaction: transaction);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static RosterItem ReadItem(SqliteDataReader reader)
    {
        var groups = JsonSerializer.Deserialize(reader.GetString(5), SqliteJson.Default.IReadOnlyListString) ?? [];
        return new RosterItem(
            reader.GetString(0),
            reader.IsDBNull(1) ? null : reader.GetString(1),
            (RosterSubscription)reader.GetInt32(2),
            reader.GetInt32(3) != 0,
            reader.GetInt32(4) != 0,
            groups);
    }

    private static PendingSubscription ReadPending(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)));

    private static void Check(string domain, string username)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class SqliteJson : System.Text.Json.Serialization.JsonSerializerContext;
