using Npgsql;

namespace Tendril.Storage.Postgres;

/// <summary>
/// <see cref="IOfflineStore"/> over <c>offline_messages</c>. Storing is one batch (one round trip, one transaction):
/// lock the account's row, then insert only while the account is under its quota. The lock serializes the stores of one
/// account across connections and nodes (SQLite gets that from its single writer), and the insert — a later statement —
/// counts with a snapshot taken after the lock, so concurrent senders cannot push an account past its quota.
/// </summary>
internal sealed class PostgresOfflineStore(PostgresStorage storage) : IOfflineStore
{
    public async ValueTask<OfflineStoreResult> StoreAsync(string domain, string username, string stanza, DateTimeOffset storedAt, int maxPerUser, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(stanza);
        return await storage.RunAsync("store offline message", async connection =>
        {
            await using var batch = new NpgsqlBatch(connection);
            // FOR NO KEY UPDATE conflicts with itself but not with the KEY SHARE locks of foreign-key checks.
            batch.BatchCommand("SELECT 1 FROM accounts WHERE domain = $1 AND username = $2 FOR NO KEY UPDATE;").Parameters.Param(domain).Param(username);
            batch.BatchCommand("""
                INSERT INTO offline_messages (domain, username, stored_at, stanza)
                SELECT $1, $2, $3, $4
                WHERE EXISTS (SELECT 1 FROM accounts WHERE domain = $1 AND username = $2)
                  AND (SELECT COUNT(*) FROM offline_messages WHERE domain = $1 AND username = $2) < $5;
                """).Parameters.Param(domain).Param(username).Param(storedAt.ToUnixTimeMilliseconds()).Param(stanza).Param((long)maxPerUser);
            await using var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false);
            var exists = await reader.ReadAsync().ConfigureAwait(false);
            await reader.NextResultAsync().ConfigureAwait(false);
            await reader.CloseAsync().ConfigureAwait(false);
            if (!exists) return OfflineStoreResult.NoSuchAccount;
            return batch.BatchCommands[1].RecordsAffected == 1 ? OfflineStoreResult.Stored : OfflineStoreResult.QuotaExceeded;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<int> CountAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        return await storage.RunAsync("count offline messages", async connection =>
        {
            await using var command = connection.Command("SELECT COUNT(*) FROM offline_messages WHERE domain = $1 AND username = $2;");
            command.Parameters.Param(domain).Param(username);
            return (int)(long)(await command.ExecuteScalarAsync().ConfigureAwait(false))!;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<OfflineMessage>> ListAsync(string domain, string username, int max, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        return await storage.RunAsync<IReadOnlyList<OfflineMessage>>("list offline messages", async connection =>
        {
            await using var command = connection.Command("SELECT id, stored_at, stanza FROM offline_messages WHERE domain = $1 AND username = $2 ORDER BY id LIMIT $3;");
            command.Parameters.Param(domain).Param(username).Param((long)max);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            var list = new List<OfflineMessage>();
            while (await reader.ReadAsync().ConfigureAwait(false))
                list.Add(new OfflineMessage(reader.GetInt64(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), reader.GetString(2)));
            return list;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<int> DeleteAsync(string domain, string username, IReadOnlyCollection<long> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0) return 0;
        var array = ids as long[] ?? [.. ids];
        return await storage.RunAsync("delete offline messages", async connection =>
        {
            // One statement (atomic) for any number of ids: an array parameter, no parameter-count limit.
            await using var command = connection.Command("DELETE FROM offline_messages WHERE domain = $1 AND username = $2 AND id = ANY($3);");
            command.Parameters.Param(domain).Param(username).Param(array);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }
}
