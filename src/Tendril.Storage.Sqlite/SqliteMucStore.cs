using Microsoft.Data.Sqlite;

namespace Tendril.Storage.Sqlite;

/// <summary><see cref="IMucStore"/> over <c>muc_rooms</c> and <c>muc_affiliations</c>; writes are transactions on the writer thread.</summary>
internal sealed class SqliteMucStore(SqliteStorage storage, IArchiveStore archive) : IMucStore
{
    public IArchiveStore Archive => archive;

    public async ValueTask<(MucRoomRecord Room, IReadOnlyList<MucAffiliationRecord> Affiliations)?> GetRoomAsync(string service, string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        return await storage.ReadAsync<(MucRoomRecord, IReadOnlyList<MucAffiliationRecord>)?>("get room", connection =>
        {
            MucRoomRecord room;
            using (var command = Command(connection, "SELECT config, public, title, creator, created_at, subject, subject_by, subject_at FROM muc_rooms WHERE service = $service AND name = $name;", service, name))
            using (var reader = command.ExecuteReader())
            {
                if (!reader.Read()) return null;
                room = new MucRoomRecord(service, name, SqliteMaps.Read(reader.GetString(0)), reader.GetInt64(1) != 0, reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.GetString(3), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)), reader.IsDBNull(5) ? null : reader.GetString(5),
                    reader.IsDBNull(6) ? null : reader.GetString(6), reader.IsDBNull(7) ? null : DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(7)));
            }
            var affiliations = new List<MucAffiliationRecord>();
            using (var command = Command(connection, "SELECT jid, affiliation, nick, reason FROM muc_affiliations WHERE service = $service AND name = $name ORDER BY jid;", service, name))
            using (var reader = command.ExecuteReader())
            {
                while (reader.Read())
                {
                    affiliations.Add(new MucAffiliationRecord(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
                }
            }
            return (room, affiliations);
        }, cancellationToken);
    }

    public async ValueTask SaveRoomAsync(MucRoomRecord room, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(room);
        await storage.WriteAsync("save room", connection =>
        {
            using var command = Command(connection, """
                INSERT INTO muc_rooms (service, name, config, public, title, creator, created_at, subject, subject_by, subject_at)
                VALUES ($service, $name, $config, $public, $title, $creator, $created_at, $subject, $subject_by, $subject_at)
                ON CONFLICT (service, name) DO UPDATE SET config = excluded.config, public = excluded.public, title = excluded.title,
                    subject = excluded.subject, subject_by = excluded.subject_by, subject_at = excluded.subject_at;
                """, room.Service, room.Name);
            command.Parameters.AddWithValue("$config", SqliteMaps.Write(room.Config));
            command.Parameters.AddWithValue("$public", room.Public ? 1 : 0);
            command.Parameters.AddWithValue("$title", (object?)room.Title ?? DBNull.Value);
            command.Parameters.AddWithValue("$creator", room.Creator);
            command.Parameters.AddWithValue("$created_at", room.CreatedAt.ToUnixTimeMilliseconds());
            command.Parameters.AddWithValue("$subject", (object?)room.Subject ?? DBNull.Value);
            command.Parameters.AddWithValue("$subject_by", (object?)room.SubjectBy ?? DBNull.Value);
            command.Parameters.AddWithValue("$subject_at", room.SubjectAt is { } at ? at.ToUnixTimeMilliseconds() : DBNull.Value);
            command.ExecuteNonQuery();
            return true;
        }, cancellationToken);
    }

    public async ValueTask<bool> SetAffiliationsAsync(string service, string name, IReadOnlyCollection<MucAffiliationRecord> changes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        return await storage.WriteAsync("set room affiliations", connection =>
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using (var exists = Command(connection, "SELECT 1 FROM muc_rooms WHERE service = $service AND name = $name;", service, name, transaction))
            {
                if (exists.ExecuteScalar() is null) return false;
            }
            using var upsert = Command(connection, """
                INSERT INTO muc_affiliations (service, name, jid, affiliation, nick, reason) VALUES ($service, $name, $jid, $affiliation, $nick, $reason)
                ON CONFLICT (service, name, jid) DO UPDATE SET affiliation = excluded.affiliation, nick = excluded.nick, reason = excluded.reason;
                """, service, name, transaction);
            var jid = upsert.Parameters.Add("$jid", SqliteType.Text);
            var affiliation = upsert.Parameters.Add("$affiliation", SqliteType.Text);
            var nick = upsert.Parameters.Add("$nick", SqliteType.Text);
            var reason = upsert.Parameters.Add("$reason", SqliteType.Text);
            using var delete = Command(connection, "DELETE FROM muc_affiliations WHERE service = $service AND name = $name AND jid = $jid;", service, name, transaction);
            var deleteJid = delete.Parameters.Add("$jid", SqliteType.Text);
            foreach (var change in changes)
            {
                if (change.Affiliation == "none" && change.Nick is null)
                {
                    deleteJid.Value = change.Jid;
                    delete.ExecuteNonQuery();
                    continue;
                }
                jid.Value = change.Jid;
                affiliation.Value = change.Affiliation;
                nick.Value = (object?)change.Nick ?? DBNull.Value;
                reason.Value = (object?)change.Reason ?? DBNull.Value;
                upsert.ExecuteNonQuery();
            }
            transaction.Commit();
            return true;
        }, cancellationToken);
    }

    public async ValueTask<bool> DeleteRoomAsync(string service, string name, CancellationToken cancellationToken = default) =>
        await storage.WriteAsync("delete room", connection =>
        {
            using var command = Command(connection, "DELETE FROM muc_rooms WHERE service = $service AND name = $name;", service, name);
            return command.ExecuteNonQuery() > 0;
        }, cancellationToken);

    public async ValueTask<MucRoomPage> ListRoomsAsync(string service, string? after, int max, bool publicOnly = true, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        var where = publicOnly ? "service = $service AND public = 1" : "service = $service";
        return await storage.ReadAsync("list rooms", connection =>
        {
            int total;
            using (var count = Command(connection, $"SELECT COUNT(*) FROM muc_rooms WHERE {where};", service))
            {
                total = Convert.ToInt32(count.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            }
            var rooms = new List<MucRoomListing>();
            using var command = Command(connection, after is null
                ? $"SELECT name, title FROM muc_rooms WHERE {where} ORDER BY name LIMIT $max;"
                : $"SELECT name, title FROM muc_rooms WHERE {where} AND name > $after ORDER BY name LIMIT $max;", service);
            command.Parameters.AddWithValue("$max", max);
            if (after is not null) command.Parameters.AddWithValue("$after", after);
            using var reader = command.ExecuteReader();
            while (reader.Read()) rooms.Add(new MucRoomListing(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
            return new MucRoomPage(rooms, total);
        }, cancellationToken);
    }

    public async ValueTask<int> CountRoomsByCreatorAsync(string service, string creator, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(creator);
        return await storage.ReadAsync("count rooms by creator", connection =>
        {
            using var command = Command(connection, "SELECT COUNT(*) FROM muc_rooms WHERE service = $service AND creator = $creator;", service);
            command.Parameters.AddWithValue("$creator", creator);
            return Convert.ToInt32(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }, cancellationToken);
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, string service, string? name = null, SqliteTransaction? transaction = null)
    {
        ArgumentNullException.ThrowIfNull(service);
        var command = connection.CreateCommand();
        if (transaction is not null) command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("$service", service);
        if (name is not null) command.Parameters.AddWithValue("$name", name);
        return command;
    }
}
