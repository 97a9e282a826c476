using System.Globalization;
using System.Text;
using Npgsql;

namespace Tendril.Storage.Postgres;

/// <summary>
/// <see cref="IArchiveStore"/> over <c>archive_messages</c> (archive order = <c>seq</c>) and <c>archive_preferences</c>.
/// A query is one statement — boundary lookups, the total count and the page — so one round trip and one snapshot (a
/// concurrent append or sweep cannot make them disagree). The page is read with one row more than asked, which tells
/// whether it is complete.
/// </summary>
internal sealed class PostgresArchiveStore(PostgresStorage storage, ArchiveTables tables) : IArchiveStore
{
    private readonly string _messages = tables.Messages;

    private static readonly ArchivePage NotFound = new(ArchiveQueryStatus.ItemNotFound, [], false, 0);

    public async ValueTask<bool> AppendAsync(string domain, string username, ArchivedMessage message, CancellationToken cancellationToken = default) =>
        await AppendBatchAsync([new ArchiveAppend(domain, username, message)], cancellationToken).ConfigureAwait(false) == 1;

    public async ValueTask<int> AppendBatchAsync(IReadOnlyList<ArchiveAppend> batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0) return 0;
        var domains = new string[batch.Count];
        var usernames = new string[batch.Count];
        var ids = new string[batch.Count];
        var stamps = new long[batch.Count];
        var bares = new string[batch.Count];
        var fulls = new string[batch.Count];
        var directions = new short[batch.Count];
        var stanzas = new string[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var (domain, username, message) = batch[i];
            ArgumentNullException.ThrowIfNull(domain);
            ArgumentNullException.ThrowIfNull(username);
            ArgumentNullException.ThrowIfNull(message);
            domains[i] = domain;
            usernames[i] = username;
            ids[i] = message.Id;
            stamps[i] = message.Timestamp.ToUnixTimeMilliseconds();
            bares[i] = message.WithBare;
            fulls[i] = message.With;
            directions[i] = (short)message.Direction;
            stanzas[i] = message.Stanza;
        }
        return await storage.RunAsync("append archive batch", async connection =>
        {
            // One statement, one round trip, atomic: unnest keeps the arrays' order (WITH ORDINALITY, inserted in that
            // order so seq follows the batch); rows of accounts that do not exist (deleted meanwhile) are skipped. A row
            // already there is skipped too: a commit whose answer the connection lost (the server went down just then)
            // is retried by the archive writer, and must not fail on its own rows or write them twice.
            await using var command = connection.Command($"""
                INSERT INTO {_messages} (domain, username, archive_id, stamp, with_bare, with_full, direction, stanza)
                SELECT r.domain, r.username, r.id, r.stamp, r.wbare, r.wfull, r.direction, r.stanza
                FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::smallint[], $8::text[])
                     WITH ORDINALITY AS r(domain, username, id, stamp, wbare, wfull, direction, stanza, n)
                WHERE EXISTS (SELECT 1 FROM {tables.Owners} a WHERE a.{tables.OwnerDomain} = r.domain AND a.{tables.OwnerName} = r.username)
                ORDER BY r.n
                ON CONFLICT (domain, username, archive_id) DO NOTHING;
                """);
            command.Parameters.Param(domains).Param(usernames).Param(ids).Param(stamps).Param(bares).Param(fulls).Param(directions).Param(stanzas);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<ArchivePage> QueryAsync(string domain, string username, ArchiveQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegative(query.Max);
        var parameters = new List<NpgsqlParameter> { new NpgsqlParameter<string> { TypedValue = domain }, new NpgsqlParameter<string> { TypedValue = username } };
        string Arg<T>(T value)
        {
            parameters.Add(new NpgsqlParameter<T> { TypedValue = value });
            return "$" + parameters.Count.ToString(CultureInfo.InvariantCulture);
        }
        string Lookup(string? id) => id is null
            ? "NULL::bigint"
            : $"(SELECT seq FROM {_messages} WHERE domain = $1 AND username = $2 AND archive_id = {Arg(id)})";

        var bounds = $"SELECT {Lookup(query.AfterId)} AS after_id, {Lookup(query.BeforeId)} AS before_id, " +
                     $"{Lookup(query.After)} AS page_after, {Lookup(string.IsNullOrEmpty(query.Before) ? null : query.Before)} AS page_before";
        var where = new StringBuilder("m.domain = $1 AND m.username = $2");
        if (query.With is not null)
            where.Append(query.With.Contains('/', StringComparison.Ordinal) ? " AND m.with_full = " : " AND m.with_bare = ").Append(Arg(query.With));
        if (query.Start is { } start) where.Append(" AND m.stamp >= ").Append(Arg(start.ToUnixTimeMilliseconds()));
        if (query.End is { } end) where.Append(" AND m.stamp <= ").Append(Arg(end.ToUnixTimeMilliseconds()));
        if (query.AfterId is not null) where.Append(" AND m.seq > b.after_id");
        if (query.BeforeId is not null) where.Append(" AND m.seq < b.before_id");
        if (query.Ids is { } ids)
        {
            // Every id in one array parameter, none dropped; the feature bounds how many a query may name (XEP-0313).
            where.Append(ids.Count == 0 ? " AND false" : " AND m.archive_id = ANY(" + Arg(ids.ToArray()) + ")");
        }
        var backwards = query.Before is not null;
        var page = backwards
            ? (query.Before!.Length > 0 ? " AND m.seq < b.page_before" : "")
            : (query.After is not null ? " AND m.seq > b.page_after" : "");
        var direction = backwards ? "DESC" : "ASC";
        var sql = $"""
            WITH b AS ({bounds}),
            c AS (SELECT COUNT(*) AS n FROM {_messages} m, b WHERE {where}),
            p AS (SELECT m.seq, m.archive_id, m.stamp, m.with_full, m.direction, m.stanza FROM {_messages} m, b
                  WHERE {where}{page} ORDER BY m.seq {direction} LIMIT {Arg((long)query.Max + 1)})
            SELECT b.after_id, b.before_id, b.page_after, b.page_before, c.n, p.archive_id, p.stamp, p.with_full, p.direction, p.stanza
            FROM b CROSS JOIN c LEFT JOIN p ON true
            ORDER BY p.seq {direction};
            """;
        return await storage.RunAsync("query archive", async connection =>
        {
            await using var command = connection.Command(sql);
            foreach (var p in parameters) command.Parameters.Add(p.Clone());
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            var items = new List<ArchivedMessage>();
            var count = 0;
            var first = true;
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                if (first)
                {
                    first = false;
                    // XEP-0313 §4.3.2: an unknown id named by after/before/after-id/before-id is item-not-found.
                    if ((query.AfterId is not null && reader.IsDBNull(0)) || (query.BeforeId is not null && reader.IsDBNull(1))
                        || (query.After is not null && reader.IsDBNull(2)) || (!string.IsNullOrEmpty(query.Before) && reader.IsDBNull(3)))
                        return NotFound;
                    count = (int)reader.GetInt64(4);
                }
                if (reader.IsDBNull(5)) continue; // no page row (empty page)
                items.Add(new ArchivedMessage(reader.GetString(5), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)), reader.GetString(7),
                    (ArchiveDirection)reader.GetInt16(8), reader.GetString(9)));
            }
            var complete = items.Count <= query.Max;
            if (!complete) items.RemoveAt(items.Count - 1);
            if (backwards) items.Reverse();
            return new ArchivePage(ArchiveQueryStatus.Ok, items, complete, count);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<ArchivePreferences?> GetPreferencesAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        if (!tables.Preferences) return null; // rooms have none
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        return await storage.RunAsync("get archive preferences", async connection =>
        {
            await using var command = connection.Command("SELECT default_mode, always_jids, never_jids FROM archive_preferences WHERE domain = $1 AND username = $2;");
            command.Parameters.Param(domain).Param(username);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            if (!await reader.ReadAsync().ConfigureAwait(false)) return null;
            return new ArchivePreferences((ArchiveDefault)reader.GetInt16(0), reader.GetFieldValue<string[]>(1), reader.GetFieldValue<string[]>(2));
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> SetPreferencesAsync(string domain, string username, ArchivePreferences preferences, CancellationToken cancellationToken = default)
    {
        if (!tables.Preferences) return false;
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(preferences);
        var always = preferences.Always as string[] ?? [.. preferences.Always];
        var never = preferences.Never as string[] ?? [.. preferences.Never];
        return await storage.RunAsync("set archive preferences", async connection =>
        {
            await using var command = connection.Command("""
                INSERT INTO archive_preferences (domain, username, default_mode, always_jids, never_jids)
                SELECT $1, $2, $3, $4, $5
                WHERE EXISTS (SELECT 1 FROM accounts WHERE domain = $1 AND username = $2)
                ON CONFLICT (domain, username) DO UPDATE SET
                    default_mode = excluded.default_mode, always_jids = excluded.always_jids, never_jids = excluded.never_jids;
                """);
            command.Parameters.Param(domain).Param(username).Param((short)preferences.Default).Param(always).Param(never);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false) >= 1;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> ReplaceAsync(string domain, string username, string id, string stanza, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(stanza);
        return await storage.RunAsync("replace archived message", async connection =>
        {
            await using var command = connection.Command($"UPDATE {_messages} SET stanza = $4 WHERE domain = $1 AND username = $2 AND archive_id = $3;");
            command.Parameters.Param(domain).Param(username).Param(id).Param(stanza);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false) > 0;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<int> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken = default)
    {
        return await storage.RunAsync("expire archive messages", async connection =>
        {
            await using var command = connection.Command($"DELETE FROM {_messages} WHERE stamp < $1;");
            command.Parameters.Param(cutoff.ToUnixTimeMilliseconds());
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }
}
