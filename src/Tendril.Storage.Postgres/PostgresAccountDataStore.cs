namespace Tendril.Storage.Postgres;

/// <summary>
/// <see cref="IAccountDataStore"/> over <c>account_data</c>. Multi-row writes are one statement over array parameters
/// (atomic, one round trip, however many entries); keys are ordered bytewise (<c>COLLATE "C"</c>, like SQLite).
/// </summary>
internal sealed class PostgresAccountDataStore(PostgresStorage storage) : IAccountDataStore
{
    public async ValueTask<string?> GetAsync(string domain, string username, string store, string key, CancellationToken cancellationToken = default)
    {
        Check(domain, username, store);
        ArgumentNullException.ThrowIfNull(key);
        return await storage.RunAsync("get account data", async connection =>
        {
            await using var command = connection.Command("SELECT value FROM account_data WHERE domain = $1 AND username = $2 AND store = $3 AND key = $4;");
            command.Parameters.Param(domain).Param(username).Param(store).Param(key);
            return await command.ExecuteScalarAsync().ConfigureAwait(false) as string;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<int> CountAsync(string domain, string username, string store, CancellationToken cancellationToken = default)
    {
        Check(domain, username, store);
        return await storage.RunAsync("count account data", async connection =>
        {
            await using var command = connection.Command("SELECT COUNT(*) FROM account_data WHERE domain = $1 AND username = $2 AND store = $3;");
            command.Parameters.Param(domain).Param(username).Param(store);
            return (int)(long)(await command.ExecuteScalarAsync().ConfigureAwait(false))!;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<KeyValuePair<string, string>>> ListAsync(string domain, string username, string store, CancellationToken cancellationToken = default)
    {
        Check(domain, username, store);
        return await storage.RunAsync<IReadOnlyList<KeyValuePair<string, string>>>("list account data", async connection =>
        {
            await using var command = connection.Command("SELECT key, value FROM account_data WHERE domain = $1 AND username = $2 AND store = $3 ORDER BY key;");
            command.Parameters.Param(domain).Param(username).Param(store);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            var list = new List<KeyValuePair<string, string>>();
            while (await reader.ReadAsync().ConfigureAwait(false)) list.Add(new(reader.GetString(0), reader.GetString(1)));
            return list;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> SetAsync(string domain, string username, string store, IReadOnlyCollection<KeyValuePair<string, string>> entries, CancellationToken cancellationToken = default)
    {
        Check(domain, username, store);
        ArgumentNullException.ThrowIfNull(entries);
        // The same key twice: the last value wins (as SQLite's row-by-row upsert); one INSERT may not touch a row twice.
        var last = new Dictionary<string, string>(entries.Count, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            ArgumentNullException.ThrowIfNull(entry.Key);
            ArgumentNullException.ThrowIfNull(entry.Value);
            last[entry.Key] = entry.Value;
        }
        var keys = last.Keys.ToArray();
        var values = last.Values.ToArray();
        return await storage.RunAsync("set account data", async connection =>
        {
            // The account row is share-locked, so a concurrent account deletion waits for (or precedes) the insert.
            await using var command = connection.Command("""
                WITH account AS (SELECT 1 FROM accounts WHERE domain = $1 AND username = $2 FOR KEY SHARE),
                written AS (
                    INSERT INTO account_data (domain, username, store, key, value)
                    SELECT $1, $2, $3, e.key, e.value FROM account, unnest($4::text[], $5::text[]) AS e(key, value)
                    ON CONFLICT (domain, username, store, key) DO UPDATE SET value = excluded.value
                    RETURNING 1)
                SELECT EXISTS (SELECT 1 FROM account), (SELECT COUNT(*) FROM written);
                """);
            command.Parameters.Param(domain).Param(username).Param(store).Param(keys).Param(values);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            await reader.ReadAsync().ConfigureAwait(false);
            return reader.GetBoolean(0);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<int> DeleteAsync(string domain, string username, string store, IReadOnlyCollection<string> keys, CancellationToken cancellationToken = default)
    {
        Check(domain, username, store);
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0) return 0;
        var array = keys as string[] ?? [.. keys];
        return await storage.RunAsync("delete account data", async connection =>
        {
            await using var command = connection.Command("DELETE FROM account_data WHERE domain = $1 AND username = $2 AND store = $3 AND key = ANY($4);");
            command.Parameters.Param(domain).Param(username).Param(store).Param(array);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<int> ClearAsync(string domain, string username, string store, CancellationToken cancellationToken = default)
    {
        Check(domain, username, store);
        return await storage.RunAsync("clear account data", async connection =>
        {
            await using var command = connection.Command("DELETE FROM account_data WHERE domain = $1 AND username = $2 AND store = $3;");
            command.Parameters.Param(domain).Param(username).Param(store);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    private static void Check(string domain, string username, string store)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(store);
    }
}
