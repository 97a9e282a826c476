namespace Tendril.Storage.Sqlite;

/// <summary><see cref="IAccountDataStore"/> over <c>account_data</c>; multi-row writes are one transaction on the writer thread.</summary>
internal sealed class SqliteAccountDataStore(SqliteStorage storage) : IAccountDataStore
{
    public async ValueTask<string?> GetAsync(string domain, string username, string store, string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(key);
        return await storage.ReadAsync("get account data", connection =>
        {
            using var command = SqliteStorage.Command(connection, "SELECT value FROM account_data WHERE domain = $domain AND username = $username AND store = $store AND key = $key;", domain, username);
            command.Parameters.AddWithValue("$store", store);
            command.Parameters.AddWithValue("$key", key);
            return command.ExecuteScalar() as string;
        }, cancellationToken);
    }

    public async ValueTask<int> CountAsync(string domain, string username, string store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(store);
        return await storage.ReadAsync("count account data", connection =>
        {
            using var command = SqliteStorage.Command(connection, "SELECT COUNT(*) FROM account_data WHERE domain = $domain AND username = $username AND store = $store;", domain, username);
            command.Parameters.AddWithValue("$store", store);
            return Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }, cancellationToken);
    }

    public async ValueTask<IReadOnlyList<KeyValuePair<string, string>>> ListAsync(string domain, string username, string store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(store);
        return await storage.ReadAsync<IReadOnlyList<KeyValuePair<string, string>>>("list account data", connection =>
        {
            using var command = SqliteStorage.Command(connection, "SELECT key, value FROM account_data WHERE domain = $domain AND username = $username AND store = $store ORDER BY key;", domain, username);
            command.Parameters.AddWithValue("$store", store);
            using var reader = command.ExecuteReader();
            var list = new List<KeyValuePair<string, string>>();
            while (reader.Read()) list.Add(new(reader.GetString(0), reader.GetString(1)));
            return list;
        }, cancellationToken);
    }

    public async ValueTask<bool> SetAsync(string domain, string username, string store, IReadOnlyCollection<KeyValuePair<string, string>> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(entries);
        return await storage.WriteAsync("set account data", connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using (var exists = SqliteStorage.Command(connection, "SELECT 1 FROM accounts WHERE domain = $domain AND username = $username;", domain, username, transaction))
            {
                if (exists.ExecuteScalar() is null) return false;
            }
            using var command = SqliteStorage.Command(connection, """
                INSERT INTO account_data (domain, username, store, key, value) VALUES ($domain, $username, $store, $key, $value)
                ON CONFLICT (domain, username, store, key) DO UPDATE SET value = excluded.value;
                """, domain, username, transaction: transaction);
            command.Parameters.AddWithValue("$store", store);
            var key = command.Parameters.Add("$key", Microsoft.Data.Sqlite.SqliteType.Text);
            var value = command.Parameters.Add("$value", Microsoft.Data.Sqlite.SqliteType.Text);
            foreach (var entry in entries)
            {
                key.Value = entry.Key;
                value.Value = entry.Value;
                command.ExecuteNonQuery();
            }
            transaction.Commit();
            return true;
        }, cancellationToken);
    }

    public async ValueTask<int> DeleteAsync(string domain, string username, string store, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0) return 0;
        return await storage.WriteAsync("delete account data", connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using var command = SqliteStorage.Command(connection, "DELETE FROM account_data WHERE domain = $domain AND username = $username AND store = $store AND key = $key;", domain, username, transaction: transaction);
            command.Parameters.AddWithValue("$store", store);
            var key = command.Parameters.Add("$key", Microsoft.Data.Sqlite.SqliteType.Text);
            var deleted = 0;
            foreach (var k in keys)
            {
                key.Value = k;
                deleted += command.ExecuteNonQuery();
            }
            transaction.Commit();
            return deleted;
        }, cancellationToken);
    }

    public async ValueTask<int> ClearAsync(string domain, string username, string store, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(store);
        return await storage.WriteAsync("clear account data", connection =>
        {
            using var command = SqliteStorage.Command(connection, "DELETE FROM account_data WHERE domain = $domain AND username = $username AND store = $store;", domain, username);
            command.Parameters.AddWithValue("$store", store);
            return command.ExecuteNonQuery();
        }, cancellationToken);
    }
}
