using System.Globalization;
using System.Text;

namespace Tendril.Storage.Sqlite;

/// <summary>
/// <see cref="IOfflineStore"/> over <c>offline_messages</c>. The quota check and the insert are one statement on the
/// writer thread, so concurrent senders cannot push an account past its quota.
/// </summary>
internal sealed class SqliteOfflineStore(SqliteStorage storage) : IOfflineStore
{
    public async ValueTask<OfflineStoreResult> StoreAsync(string domain, string username, string stanza, DateTimeOffset storedAt, int maxPerUser, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(stanza);
        return await storage.WriteAsync("store offline message", connection =>
        {
            using var command = SqliteStorage.Command(connection, """
                INSERT INTO offline_messages (domain, username, stored_at, stanza)
                SELECT $domain, $username, $stored_at, $stanza
                WHERE EXISTS (SELECT 1 FROM accounts WHERE domain = $domain AND username = $username)
                  AND (SELECT COUNT(*) FROM offline_messages WHERE domain = $domain AND username = $username) < $max;
                """, domain, username);
            command.Parameters.AddWithValue("$stored_at", storedAt.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$stanza", stanza);
            command.Parameters.AddWithValue("$max", maxPerUser);
            if (command.ExecuteNonQuery() == 1) return OfflineStoreResult.Stored;
            using var exists = SqliteStorage.Command(connection, "SELECT 1 FROM accounts WHERE domain = $domain AND username = $username;", domain, username);
            return exists.ExecuteScalar() is null ? OfflineStoreResult.NoSuchAccount : OfflineStoreResult.QuotaExceeded;
        }, cancellationToken);
    }

    public async ValueTask<int> CountAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        return await storage.ReadAsync("count offline messages", connection =>
        {
            using var command = SqliteStorage.Command(connection, "SELECT COUNT(*) FROM offline_messages WHERE domain = $domain AND username = $username;", domain, username);
            return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }, cancellationToken);
    }

    public async ValueTask<IReadOnlyList<OfflineMessage>> ListAsync(string domain, string username, int max, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        return await storage.ReadAsync<IReadOnlyList<OfflineMessage>>("list offline messages", connection =>
        {
            using var command = SqliteStorage.Command(connection, "SELECT id, stored_at, stanza FROM offline_messages WHERE domain = $domain AND username = $username ORDER BY id LIMIT $max;", domain, username);
            command.Parameters.AddWithValue("$max", max);
            using var reader = command.ExecuteReader();
            var list = new List<OfflineMessage>();
            while (reader.Read()) list.Add(new OfflineMessage(reader.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), reader.GetString(2)));
            return list;
        }, cancellationToken);
    }

    public async ValueTask<int> DeleteAsync(string domain, string username, IReadOnlyCollection<long> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0) return 0;
        return await storage.WriteAsync("delete offline messages", connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            var deleted = 0;
            // Batches keep the parameter count well under SQLite's limit.
            foreach (var chunk in ids.Chunk(500))
            {
                using var command = SqliteStorage.Command(connection, "", domain, username, transaction); // the SQL follows the chunk
                var sql = new StringBuilder("DELETE FROM offline_messages WHERE domain = $domain AND username = $username AND id IN (");
                for (var i = 0; i < chunk.Length; i++)
                {
                    if (i > 0) sql.Append(',');
                    var name = "$id" + i.ToString(CultureInfo.InvariantCulture);
                    sql.Append(name);
                    command.Parameters.AddWithValue(name, chunk[i]);
                }
                sql.Append(");");
                command.CommandText = sql.ToString();
                deleted += command.ExecuteNonQuery();
            }
            transaction.Commit();
            return deleted;
        }, cancellationToken);
    }
}
