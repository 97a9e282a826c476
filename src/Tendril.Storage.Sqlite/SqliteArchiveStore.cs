using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace Tendril.Storage.Sqlite;

/// <summary>
/// <see cref="IArchiveStore"/> over <c>archive_messages</c> (or a room's <c>muc_archive</c>, <see cref="ArchiveTables"/>; archive order = <c>seq</c>) and <c>archive_preferences</c>.
/// A page is read with one row more than asked, which tells whether the page is complete.
/// </summary>
internal sealed class SqliteArchiveStore(SqliteStorage storage, ArchiveTables tables) : IArchiveStore
{
    private readonly string _messages = tables.Messages;

    public async ValueTask<bool> AppendAsync(string domain, string username, ArchivedMessage message, CancellationToken cancellationToken = default) =>
        await AppendBatchAsync([new ArchiveAppend(domain, username, message)], cancellationToken).ConfigureAwait(false) == 1;

    public async ValueTask<int> AppendBatchAsync(IReadOnlyList<ArchiveAppend> batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0) return 0;
        return await storage.WriteAsync("append archive batch", connection =>
        {
            // One transaction, one prepared statement re-bound per row; the EXISTS guard keeps a row of an account
            // deleted meanwhile out (AppendAsync is a batch of one).
            using var transaction = connection.BeginTransaction();
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"""
                INSERT INTO {_messages} (domain, username, archive_id, stamp, with_bare, with_full, direction, stanza)
                SELECT $domain, $username, $id, $stamp, $bare, $full, $direction, $stanza
                WHERE EXISTS (SELECT 1 FROM {tables.Owners} WHERE {tables.OwnerDomain} = $domain AND {tables.OwnerName} = $username)
                ON CONFLICT (domain, username, archive_id) DO NOTHING;
                """;
            var pDomain = command.Parameters.Add("$domain", SqliteType.Text);
            var pUsername = command.Parameters.Add("$username", SqliteType.Text);
            var pId = command.Parameters.Add("$id", SqliteType.Text);
            var pStamp = command.Parameters.Add("$stamp", SqliteType.Integer);
            var pBare = command.Parameters.Add("$bare", SqliteType.Text);
            var pFull = command.Parameters.Add("$full", SqliteType.Text);
            var pDirection = command.Parameters.Add("$direction", SqliteType.Integer);
            var pStanza = command.Parameters.Add("$stanza", SqliteType.Text);
            command.Prepare();
            var written = 0;
            for (var i = 0; i < batch.Count; i++)
            {
                var (domain, username, message) = batch[i];
                ArgumentNullException.ThrowIfNull(domain);
                ArgumentNullException.ThrowIfNull(username);
                ArgumentNullException.ThrowIfNull(message);
                pDomain.Value = domain;
                pUsername.Value = username;
                pId.Value = message.Id;
                pStamp.Value = message.Timestamp.ToUnixTimeMilliseconds();
                pBare.Value = message.WithBare;
                pFull.Value = message.With;
                pDirection.Value = (int)message.Direction;
                pStanza.Value = message.Stanza;
                written += command.ExecuteNonQuery();
            }
            transaction.Commit();
            return written;
        }, cancellationToken);
    }

    public async ValueTask<ArchivePage> QueryAsync(string domain, string username, ArchiveQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegative(query.Max);
        return await storage.ReadAsync("query archive", connection =>
        {
            // One snapshot for the boundary lookups, the count and the page (a concurrent append or sweep must not
            // make them disagree).
            using var snapshot = connection.BeginTransaction(deferred: true);
            long? afterIdSeq = null, beforeIdSeq = null, afterSeq = null, beforeSeq = null;
            if (query.AfterId is not null && (afterIdSeq = Seq(connection, domain, username, query.AfterId)) is null) return NotFound;
            if (query.BeforeId is not null && (beforeIdSeq = Seq(connection, domain, username, query.BeforeId)) is null) return NotFound;
            if (query.After is not null && (afterSeq = Seq(connection, domain, username, query.After)) is null) return NotFound;
            if (!string.IsNullOrEmpty(query.Before) && (beforeSeq = Seq(connection, domain, username, query.Before)) is null) return NotFound;

            using var command = SqliteStorage.Command(connection, "", domain, username); // the SQL is built below
            var where = new StringBuilder("domain = $domain AND username = $username");
            if (query.With is not null)
            {
                where.Append(query.With.Contains('/', StringComparison.Ordinal) ? " AND with_full = $with" : " AND with_bare = $with");
                command.Parameters.AddWithValue("$with", query.With);
            }
            if (query.Start is { } start)
            {
                where.Append(" AND stamp >= $start");
                command.Parameters.AddWithValue("$start", start.ToUnixTimeMilliseconds());
            }
            if (query.End is { } end)
            {
                where.Append(" AND stamp <= $end");
                command.Parameters.AddWithValue("$end", end.ToUnixTimeMilliseconds());
            }
            if (afterIdSeq is { } a)
            {
                where.Append(" AND seq > $afterid");
                command.Parameters.AddWithValue("$afterid", a);
            }
            if (beforeIdSeq is { } b)
            {
                where.Append(" AND seq < $beforeid");
                command.Parameters.AddWithValue("$beforeid", b);
            }
            if (query.Ids is { } ids)
            {
                if (ids.Count == 0) return new ArchivePage(ArchiveQueryStatus.Ok, [], true, 0);
                // Every id, in one parameter (a JSON array), so no count runs into SQLite's parameter limit and none is
                // dropped; the feature bounds how many a query may name (XEP-0313 #extended ids field).
                where.Append(" AND archive_id IN (SELECT value FROM json_each($ids))");
                command.Parameters.AddWithValue("$ids", JsonSerializer.Serialize(ids as IReadOnlyList<string> ?? [.. ids], SqliteJson.Default.IReadOnlyListString));
            }

            command.CommandText = $"SELECT COUNT(*) FROM {_messages} WHERE {where};";
            var count = Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);

            var backwards = query.Before is not null;
            if (backwards && beforeSeq is { } bs)
            {
                where.Append(" AND seq < $pagebefore");
                command.Parameters.AddWithValue("$pagebefore", bs);
            }
            else if (afterSeq is { } s)
            {
                where.Append(" AND seq > $pageafter");
                command.Parameters.AddWithValue("$pageafter", s);
            }
            command.Parameters.AddWithValue("$limit", query.Max + 1);
            command.CommandText = $"SELECT archive_id, stamp, with_full, direction, stanza FROM {_messages} WHERE {where} ORDER BY seq {(backwards ? "DESC" : "ASC")} LIMIT $limit;";
            var items = new List<ArchivedMessage>();
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    items.Add(new ArchivedMessage(reader.GetString(0), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(1)), reader.GetString(2),
                        (ArchiveDirection)reader.GetInt32(3), reader.GetString(4)));
                }
            }
            var complete = items.Count <= query.Max;
            if (!complete) items.RemoveAt(items.Count - 1);
            if (backwards) items.Reverse();
            return new ArchivePage(ArchiveQueryStatus.Ok, items, complete, count);
        }, cancellationToken);
    }

    private static readonly ArchivePage NotFound = new(ArchiveQueryStatus.ItemNotFound, [], false, 0);

    private long? Seq(SqliteConnection connection, string domain, string username, string id)
    {
        using var command = SqliteStorage.Command(connection, $"SELECT seq FROM {_messages} WHERE domain = $domain AND username = $username AND archive_id = $id;", domain, username);
        command.Parameters.AddWithValue("$id", id);
        return command.ExecuteScalar() is long seq ? seq : null;
    }

    public async ValueTask<ArchivePreferences?> GetPreferencesAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        if (!tables.Preferences) return null; // rooms have none
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        return await storage.ReadAsync("get archive preferences", connection =>
        {
            using var command = SqliteStorage.Command(connection, "SELECT default_mode, always_jids, never_jids FROM archive_preferences WHERE domain = $domain AND username = $username;", domain, username);
            using var reader = command.ExecuteReader();
            if (!reader.Read()) return null;
            return new ArchivePreferences((ArchiveDefault)reader.GetInt32(0),
                JsonSerializer.Deserialize(reader.GetString(1), SqliteJson.Default.IReadOnlyListString) ?? [],
                JsonSerializer.Deserialize(reader.GetString(2), SqliteJson.Default.IReadOnlyListString) ?? []);
        }, cancellationToken);
    }

    public async ValueTask<bool> SetPreferencesAsync(string domain, string username, ArchivePreferences preferences, CancellationToken cancellationToken = default)
    {
        if (!tables.Preferences) return false;
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(preferences);
        var always = JsonSerializer.Serialize(preferences.Always, SqliteJson.Default.IReadOnlyListString);
        var never = JsonSerializer.Serialize(preferences.Never, SqliteJson.Default.IReadOnlyListString);
        return await storage.WriteAsync("set archive preferences", connection =>
        {
            using var command = SqliteStorage.Command(connection, """
                INSERT OR REPLACE INTO archive_preferences (domain, username, default_mode, always_jids, never_jids)
                SELECT $domain, $username, $mode, $always, $never
                WHERE EXISTS (SELECT 1 FROM accounts WHERE domain = $domain AND username = $username);
                """, domain, username);
            command.Parameters.AddWithValue("$mode", (int)preferences.Default);
            command.Parameters.AddWithValue("$always", always);
            command.Parameters.AddWithValue("$never", never);
            return command.ExecuteNonQuery() >= 1;
        }, cancellationToken);
    }

    public async ValueTask<bool> ReplaceAsync(string domain, string username, string id, string stanza, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(stanza);
        return await storage.WriteAsync("replace archived message", connection =>
        {
            using var command = SqliteStorage.Command(connection, $"UPDATE {_messages} SET stanza = $stanza WHERE domain = $domain AND username = $username AND archive_id = $id;", domain, username);
            command.Parameters.AddWithValue("$id", id);
            command.Parameters.AddWithValue("$stanza", stanza);
            return command.ExecuteNonQuery() > 0;
        }, cancellationToken);
    }

    public async ValueTask<int> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken = default)
    {
        return await storage.WriteAsync("expire archive messages", connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"DELETE FROM {_messages} WHERE stamp < $cutoff;";
            command.Parameters.AddWithValue("$cutoff", cutoff.ToUnixTimeMilliseconds());
            return command.ExecuteNonQuery();
        }, cancellationToken);
    }
}
