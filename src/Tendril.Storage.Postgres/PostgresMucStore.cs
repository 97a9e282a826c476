using Npgsql;

namespace Tendril.Storage.Postgres;

/// <summary>
/// <see cref="IMucStore"/> over <c>muc_rooms</c> and <c>muc_affiliations</c>. A room and its affiliations are read in one
/// batch (one round trip); affiliation changes are one transaction.
/// </summary>
internal sealed class PostgresMucStore(PostgresStorage storage, IArchiveStore archive) : IMucStore
{
    public IArchiveStore Archive => archive;

    public async ValueTask<(MucRoomRecord Room, IReadOnlyList<MucAffiliationRecord> Affiliations)?> GetRoomAsync(string service, string name, CancellationToken cancellationToken = default)
    {
        Check(service, name);
        return await storage.RunAsync<(MucRoomRecord, IReadOnlyList<MucAffiliationRecord>)?>("get room", async connection =>
        {
            await using var batch = new NpgsqlBatch(connection);
            batch.BatchCommand("SELECT config, public, title, creator, created_at, subject, subject_by, subject_at FROM muc_rooms WHERE service = $1 AND name = $2;")
                .Parameters.Param(service).Param(name);
            batch.BatchCommand("SELECT jid, affiliation, nick, reason FROM muc_affiliations WHERE service = $1 AND name = $2 ORDER BY jid;")
                .Parameters.Param(service).Param(name);
            await using var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false);
            if (!await reader.ReadAsync().ConfigureAwait(false)) return null;
            var room = new MucRoomRecord(service, name, PostgresMaps.Read(reader.GetString(0)), reader.GetBoolean(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.GetString(3), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)), reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7)));
            await reader.NextResultAsync().ConfigureAwait(false);
            var affiliations = new List<MucAffiliationRecord>();
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                affiliations.Add(new MucAffiliationRecord(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
            }
            return (room, affiliations);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask SaveRoomAsync(MucRoomRecord room, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(room);
        Check(room.Service, room.Name);
        var config = PostgresMaps.Write(room.Config);
        await storage.RunAsync("save room", async connection =>
        {
            await using var command = connection.Command("""
                INSERT INTO muc_rooms (service, name, config, public, title, creator, created_at, subject, subject_by, subject_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                ON CONFLICT (service, name) DO UPDATE SET config = excluded.config, public = excluded.public, title = excluded.title,
                    subject = excluded.subject, subject_by = excluded.subject_by, subject_at = excluded.subject_at;
                """);
            command.Parameters.Param(room.Service).Param(room.Name).Param(config).Param(room.Public).ParamNullableText(room.Title).Param(room.Creator)
                .Param(room.CreatedAt.ToUnixTimeMilliseconds()).ParamNullableText(room.Subject).ParamNullableText(room.SubjectBy)
                .Param(room.SubjectAt?.ToUnixTimeMilliseconds());
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> SetAffiliationsAsync(string service, string name, IReadOnlyCollection<MucAffiliationRecord> changes, CancellationToken cancellationToken = default)
    {
        Check(service, name);
        ArgumentNullException.ThrowIfNull(changes);
        // The last change of a JID wins, as SQLite's row-by-row writes; one INSERT may not touch a row twice.
        var last = new Dictionary<string, MucAffiliationRecord>(changes.Count, StringComparer.Ordinal);
        foreach (var change in changes) last[change.Jid] = change;
        var upserts = last.Values.Where(c => c.Affiliation != "none" || c.Nick is not null).ToArray();
        var deletes = last.Values.Where(c => c.Affiliation == "none" && c.Nick is null).Select(c => c.Jid).ToArray();
        return await storage.RunAsync("set room affiliations", async connection =>
        {
            await using var transaction = await connection.BeginTransactionAsync().ConfigureAwait(false);
            await using (var exists = connection.Command("SELECT 1 FROM muc_rooms WHERE service = $1 AND name = $2 FOR KEY SHARE;"))
            {
                exists.Parameters.Param(service).Param(name);
                if (await exists.ExecuteScalarAsync().ConfigureAwait(false) is null) return false;
            }
            if (deletes.Length > 0)
            {
                await using var delete = connection.Command("DELETE FROM muc_affiliations WHERE service = $1 AND name = $2 AND jid = ANY($3);");
                delete.Parameters.Param(service).Param(name).Param(deletes);
                await delete.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
            if (upserts.Length > 0)
            {
                await using var upsert = connection.Command("""
                    INSERT INTO muc_affiliations (service, name, jid, affiliation, nick, reason)
                    SELECT $1, $2, a.jid, a.affiliation, a.nick, a.reason FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS a(jid, affiliation, nick, reason)
                    ON CONFLICT (service, name, jid) DO UPDATE SET affiliation = excluded.affiliation, nick = excluded.nick, reason = excluded.reason;
                    """);
                upsert.Parameters.Param(service).Param(name)
                    .Param(upserts.Select(u => u.Jid).ToArray()).Param(upserts.Select(u => u.Affiliation).ToArray())
                    .Param(upserts.Select(u => u.Nick).ToArray()).Param(upserts.Select(u => u.Reason).ToArray());
                await upsert.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
            await transaction.CommitAsync().ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> DeleteRoomAsync(string service, string name, CancellationToken cancellationToken = default)
    {
        Check(service, name);
        return await storage.RunAsync("delete room", async connection =>
        {
            await using var command = connection.Command("DELETE FROM muc_rooms WHERE service = $1 AND name = $2;");
            command.Parameters.Param(service).Param(name);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false) > 0;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<MucRoomPage> ListRoomsAsync(string service, string? after, int max, bool publicOnly = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        return await storage.RunAsync("list rooms", async connection =>
        {
            await using var batch = new NpgsqlBatch(connection);
            batch.BatchCommand("SELECT COUNT(*) FROM muc_rooms WHERE service = $1 AND (public OR NOT $2);").Parameters.Param(service).Param(publicOnly);
            batch.BatchCommand("SELECT name, title FROM muc_rooms WHERE service = $1 AND (public OR NOT $4) AND ($2::text IS NULL OR name > $2) ORDER BY name LIMIT $3;")
                .Parameters.Param(service).ParamNullableText(after).Param((long)max).Param(publicOnly);
            await using var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false);
            await reader.ReadAsync().ConfigureAwait(false);
            var total = (int)reader.GetInt64(0);
            await reader.NextResultAsync().ConfigureAwait(false);
            var rooms = new List<MucRoomListing>();
            while (await reader.ReadAsync().ConfigureAwait(false)) rooms.Add(new MucRoomListing(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
            return new MucRoomPage(rooms, total);
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<int> CountRoomsByCreatorAsync(string service, string creator, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(creator);
        return await storage.RunAsync("count rooms by creator", async connection =>
        {
            await using var command = connection.Command("SELECT COUNT(*) FROM muc_rooms WHERE service = $1 AND creator = $2;");
            command.Parameters.Param(service).Param(creator);
            return (int)(long)(await command.ExecuteScalarAsync().ConfigureAwait(false))!;
        }, cancellationToken).ConfigureAwait(false);
    }

    private static void Check(string service, string name)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(name);
    }
}
