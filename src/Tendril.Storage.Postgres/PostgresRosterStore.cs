using Npgsql;

namespace Tendril.Storage.Postgres;

/// <summary>
/// <see cref="IRosterStore"/> over <c>roster_items</c>, <c>roster_versions</c> and <c>roster_pending_in</c>. Reading a
/// whole roster (version and items) is one statement, so one round trip and one snapshot at login whatever the roster's
/// size; a change to an item and the version bump are one batch (one implicit transaction).
/// </summary>
internal sealed class PostgresRosterStore(PostgresStorage storage) : IRosterStore
{
    private const string ItemColumns = "jid, name, subscription, ask, approved, groups";

    // Bumps the version (creating it at 1) and returns it; $1 domain, $2 username. The upsert's row lock serializes
    // concurrent changes of one roster.
    private const string BumpVersion = """
        INSERT INTO roster_versions (domain, username, version) VALUES ($1, $2, 1)
        ON CONFLICT (domain, username) DO UPDATE SET version = roster_versions.version + 1
        RETURNING version;
        """;

    public async ValueTask<RosterSnapshot> GetAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        return await storage.RunAsync("get roster", async connection =>
        {
            // One row per item, each carrying the version; one row with null item columns for an empty roster.
            await using var command = connection.Command($"""
                SELECT v.version, i.jid, i.name, i.subscription, i.ask, i.approved, i.groups
                FROM (SELECT COALESCE((SELECT version FROM roster_versions WHERE domain = $1 AND username = $2), 0) AS version) v
                LEFT JOIN roster_items i ON i.domain = $1 AND i.username = $2
                ORDER BY i.jid;
                """);
            command.Parameters.Param(domain).Param(username);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            long version = 0;
            var items = new List<RosterItem>();
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                version = reader.GetInt64(0);
                if (!reader.IsDBNull(1)) items.Add(ReadItem(reader, 1));
            }
            return new RosterSnapshot(version, items);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<RosterItem?> GetItemAsync(string domain, string username, string jid, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(jid);
        return await storage.RunAsync("get roster item", async connection =>
        {
            await using var command = connection.Command($"SELECT {ItemColumns} FROM roster_items WHERE domain = $1 AND username = $2 AND jid = $3;");
            command.Parameters.Param(domain).Param(username).Param(jid);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            return await reader.ReadAsync().ConfigureAwait(false) ? ReadItem(reader, 0) : null;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<long> GetVersionAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        return await storage.RunAsync("get roster version", async connection =>
        {
            await using var command = connection.Command("SELECT version FROM roster_versions WHERE domain = $1 AND username = $2;");
            command.Parameters.Param(domain).Param(username);
            return await command.ExecuteScalarAsync().ConfigureAwait(false) is long version ? version : 0L;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<long> SetItemAsync(string domain, string username, RosterItem item, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(item);
        var groups = item.Groups as string[] ?? [.. item.Groups];
        return await storage.RunAsync("set roster item", async connection =>
        {
            // A missing account fails the foreign key: StorageException, as with SQLite.
            await using var batch = new NpgsqlBatch(connection);
            batch.BatchCommand($"""
                INSERT INTO roster_items (domain, username, {ItemColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (domain, username, jid) DO UPDATE SET
                    name = excluded.name, subscription = excluded.subscription, ask = excluded.ask,
                    approved = excluded.approved, groups = excluded.groups;
                """).Parameters.Param(domain).Param(username).Param(item.Jid).ParamNullableText(item.Name)
                .Param((short)item.Subscription).Param(item.Ask).Param(item.Approved).Param(groups);
            batch.BatchCommand(BumpVersion).Parameters.Param(domain).Param(username);
            return (long)(await batch.ExecuteScalarAsync().ConfigureAwait(false))!;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<long?> RemoveItemAsync(string domain, string username, string jid, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(jid);
        return await storage.RunAsync<long?>("remove roster item", async connection =>
        {
            // One statement: the version is bumped only when an item was deleted (no row comes back otherwise).
            await using var command = connection.Command("""
                WITH removed AS (DELETE FROM roster_items WHERE domain = $1 AND username = $2 AND jid = $3 RETURNING 1)
                INSERT INTO roster_versions (domain, username, version) SELECT $1, $2, 1 FROM removed
                ON CONFLICT (domain, username) DO UPDATE SET version = roster_versions.version + 1
                RETURNING version;
                """);
            command.Parameters.Param(domain).Param(username).Param(jid);
            return await command.ExecuteScalarAsync().ConfigureAwait(false) is long version ? version : null;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask SetPendingAsync(string domain, string username, PendingSubscription pending, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(pending);
        await storage.RunAsync("set pending subscription", async connection =>
        {
            // A repeated request replaces the stanza and keeps the first arrival time (its place in the list).
            await using var command = connection.Command("""
                INSERT INTO roster_pending_in (domain, username, jid, stanza, received_at) VALUES ($1, $2, $3, $4, $5)
                ON CONFLICT (domain, username, jid) DO UPDATE SET stanza = excluded.stanza;
                """);
            command.Parameters.Param(domain).Param(username).Param(pending.Jid).Param(pending.Stanza).Param(pending.ReceivedAt.ToUnixTimeMilliseconds());
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> RemovePendingAsync(string domain, string username, string jid, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(jid);
        return await storage.RunAsync("remove pending subscription", async connection =>
        {
            await using var command = connection.Command("DELETE FROM roster_pending_in WHERE domain = $1 AND username = $2 AND jid = $3;");
            command.Parameters.Param(domain).Param(username).Param(jid);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false) == 1;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<PendingSubscription?> GetPendingAsync(string domain, string username, string jid, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(jid);
        return await storage.RunAsync("get pending subscription", async connection =>
        {
            await using var command = connection.Command("SELECT jid, stanza, received_at FROM roster_pending_in WHERE domain = $1 AND username = $2 AND jid = $3;");
            command.Parameters.Param(domain).Param(username).Param(jid);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            return await reader.ReadAsync().ConfigureAwait(false) ? ReadPending(reader) : null;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<PendingSubscription>> ListPendingAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        return await storage.RunAsync<IReadOnlyList<PendingSubscription>>("list pending subscriptions", async connection =>
        {
            await using var command = connection.Command("SELECT jid, stanza, received_at FROM roster_pending_in WHERE domain = $1 AND username = $2 ORDER BY received_at, jid;");
            command.Parameters.Param(domain).Param(username);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            var list = new List<PendingSubscription>();
            while (await reader.ReadAsync().ConfigureAwait(false)) list.Add(ReadPending(reader));
            return list;
        }, cancellationToken).ConfigureAwait(false);
    }

    private static RosterItem ReadItem(NpgsqlDataReader reader, int first) => new(
        reader.GetString(first),
        reader.IsDBNull(first + 1) ? null : reader.GetString(first + 1),
        (RosterSubscription)reader.GetInt16(first + 2),
        reader.GetBoolean(first + 3),
        reader.GetBoolean(first + 4),
        reader.GetFieldValue<string[]>(first + 5));

    private static PendingSubscription ReadPending(NpgsqlDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)));

    private static void Check(string domain, string username)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
    }
}
