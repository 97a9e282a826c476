using Npgsql;

namespace Tendril.Storage.Postgres;

/// <summary>
/// <see cref="IRosterStore"/> over <c>roster_items</c>, <c>roster_versions</c>, <c>roster_removed</c> and <c>roster_pending_in</c>. Reading a
/// whole roster (version and items) is one statement, so one round trip and one snapshot at login whatever the roster's
/// size; a change to an item, the version bump and the item's version (or its removal record) are one statement.
/// </summary>
internal sealed class PostgresRosterStore(PostgresStorage storage) : IRosterStore
{
    private const string ItemColumns = "jid, name, subscription, ask, approved, groups";

    // Bumps the version (creating it at 1) and returns it; $1 domain, $2 username; a statement without ';' (used in a CTE). The upsert's row lock serializes
    // concurrent changes of one roster.
    private const string BumpVersion = """
        INSERT INTO roster_versions (domain, username, version) VALUES ($1, $2, 1)
        ON CONFLICT (domain, username) DO UPDATE SET version = roster_versions.version + 1
        RETURNING version
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

    public async ValueTask<(int Items, int Pending)> CountAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        return await storage.RunAsync("count roster", async connection =>
        {
            await using var command = connection.Command(
                "SELECT (SELECT COUNT(*) FROM roster_items WHERE domain = $1 AND username = $2)::int, (SELECT COUNT(*) FROM roster_pending_in WHERE domain = $1 AND username = $2)::int;");
            command.Parameters.Param(domain).Param(username);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            await reader.ReadAsync().ConfigureAwait(false);
            return (reader.GetInt32(0), reader.GetInt32(1));
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

    public async ValueTask<RosterDelta?> GetChangesSinceAsync(string domain, string username, long since, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        return await storage.RunAsync<RosterDelta?>("get roster changes", async connection =>
        {
            // One statement, one snapshot: the version and horizon on every row, then the changed items and removals
            // (one row with null change columns when nothing changed).
            await using var command = connection.Command($"""
                SELECT v.version, v.horizon, c.version, c.jid, c.name, c.subscription, c.ask, c.approved, c.groups
                FROM (SELECT COALESCE(max(version), 0) AS version, COALESCE(max(horizon), 0) AS horizon
                      FROM roster_versions WHERE domain = $1 AND username = $2) v
                LEFT JOIN (
                    SELECT version, jid, name, subscription, ask, approved, groups FROM roster_items
                    WHERE domain = $1 AND username = $2 AND version > $3
                    UNION ALL
                    SELECT version, jid, NULL, NULL, NULL, NULL, NULL FROM roster_removed
                    WHERE domain = $1 AND username = $2 AND version > $3) c ON true
                ORDER BY c.version;
                """);
            command.Parameters.Param(domain).Param(username).Param(since);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            long version = 0, horizon = 0;
            var changes = new List<RosterChange>();
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                version = reader.GetInt64(0);
                horizon = reader.GetInt64(1);
                if (reader.IsDBNull(2)) continue;
                var jid = reader.GetString(3);
                changes.Add(new RosterChange(reader.GetInt64(2), jid, reader.IsDBNull(5) ? null : ReadItem(reader, 3)));
            }
            return since > version || since < horizon ? null : new RosterDelta(version, changes);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<long> SetItemAsync(string domain, string username, RosterItem item, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(item);
        var groups = item.Groups as string[] ?? [.. item.Groups];
        return await storage.RunAsync("set roster item", async connection =>
        {
            // One statement: bump the version, write the item with it, forget an earlier removal of the same JID. A
            // missing account fails the foreign key: StorageException, as with SQLite.
            await using var command = connection.Command($"""
                WITH v AS ({BumpVersion}),
                i AS (
                    INSERT INTO roster_items (domain, username, {ItemColumns}, version)
                    SELECT $1, $2, $3, $4, $5, $6, $7, $8, v.version FROM v
                    ON CONFLICT (domain, username, jid) DO UPDATE SET
                        name = excluded.name, subscription = excluded.subscription, ask = excluded.ask,
                        approved = excluded.approved, groups = excluded.groups, version = excluded.version),
                r AS (DELETE FROM roster_removed WHERE domain = $1 AND username = $2 AND jid = $3)
                SELECT version FROM v;
                """);
            command.Parameters.Param(domain).Param(username).Param(item.Jid).ParamNullableText(item.Name)
                .Param((short)item.Subscription).Param(item.Ask).Param(item.Approved).Param(groups);
            return (long)(await command.ExecuteScalarAsync().ConfigureAwait(false))!;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<long?> RemoveItemAsync(string domain, string username, string jid, CancellationToken cancellationToken = default)
    {
        Check(domain, username);
        ArgumentNullException.ThrowIfNull(jid);
        return await storage.RunAsync<long?>("remove roster item", async connection =>
        {
            // One batch (one implicit transaction). First statement: the version is bumped and the removal kept only when
            // an item was deleted (no row comes back otherwise). Second: beyond RemovalsKept removals the oldest are
            // forgotten and the horizon moves past them, so an older client version gets the full roster.
            await using var batch = new NpgsqlBatch(connection);
            batch.BatchCommand("""
                WITH removed AS (DELETE FROM roster_items WHERE domain = $1 AND username = $2 AND jid = $3 RETURNING 1),
                v AS (
                    INSERT INTO roster_versions (domain, username, version) SELECT $1, $2, 1 FROM removed
                    ON CONFLICT (domain, username) DO UPDATE SET version = roster_versions.version + 1
                    RETURNING version),
                t AS (
                    INSERT INTO roster_removed (domain, username, jid, version) SELECT $1, $2, $3, version FROM v
                    ON CONFLICT (domain, username, jid) DO UPDATE SET version = excluded.version)
                SELECT version FROM v;
                """).Parameters.Param(domain).Param(username).Param(jid);
            batch.BatchCommand("""
                WITH cut AS (
                    SELECT version FROM roster_removed WHERE domain = $1 AND username = $2
                    ORDER BY version DESC OFFSET $3 LIMIT 1),
                h AS (
                    UPDATE roster_versions SET horizon = GREATEST(horizon, cut.version) FROM cut
                    WHERE domain = $1 AND username = $2)
                DELETE FROM roster_removed r USING cut WHERE r.domain = $1 AND r.username = $2 AND r.version <= cut.version;
                """).Parameters.Param(domain).Param(username).Param((long)IRosterStore.RemovalsKept);
            return await batch.ExecuteScalarAsync().ConfigureAwait(false) is long version ? version : null;
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
