using Microsoft.Data.Sqlite;
using Tendril.Protocol.Sasl;

namespace Tendril.Storage.Sqlite;

/// <summary>
/// <see cref="IAccountStore"/> over the <c>accounts</c> table. Usernames and domains are stored exactly as given:
/// the caller normalizes them (via <c>Jid</c>) first. <c>created_at</c> keeps millisecond precision.
/// </summary>
internal sealed class SqliteAccountStore(SqliteStorage storage) : IAccountStore
{
    private const string Columns =
        "created_at, sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key, " +
        "sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key";

    public async ValueTask<Account?> FindAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        return await storage.ReadAsync("find account", connection =>
        {
            using var command = SqliteStorage.Command(connection, $"SELECT {Columns} FROM accounts WHERE domain = $domain AND username = $username;", domain, username);
            using var reader = command.ExecuteReader();
            if (!reader.Read()) return null;
            return new Account(
                username,
                domain,
                ReadCredential(reader, ScramHash.Sha1, 1),
                ReadCredential(reader, ScramHash.Sha256, 5),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0)));
        }, cancellationToken);
    }

    public async ValueTask<bool> CreateAsync(Account account, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        CheckCredentials(account.Sha1, account.Sha256);
        return await storage.WriteAsync("create account", connection =>
        {
            using var command = SqliteStorage.Command(connection, $"""
                INSERT INTO accounts (domain, username, {Columns})
                VALUES ($domain, $username, $created_at, $sha1_salt, $sha1_iterations, $sha1_stored_key, $sha1_server_key,
                        $sha256_salt, $sha256_iterations, $sha256_stored_key, $sha256_server_key)
                ON CONFLICT (domain, username) DO NOTHING;
                """, account.Domain, account.Username);
            command.Parameters.AddWithValue("$created_at", account.CreatedAt.ToUnixTimeMilliseconds());
            AddCredential(command, "sha1", account.Sha1);
            AddCredential(command, "sha256", account.Sha256);
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);
    }

    public async ValueTask<bool> UpdateCredentialsAsync(string domain, string username, ScramCredential sha1, ScramCredential sha256, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        CheckCredentials(sha1, sha256);
        return await storage.WriteAsync("update credentials", connection =>
        {
            using var command = SqliteStorage.Command(connection, """
                UPDATE accounts SET
                    sha1_salt = $sha1_salt, sha1_iterations = $sha1_iterations,
                    sha1_stored_key = $sha1_stored_key, sha1_server_key = $sha1_server_key,
                    sha256_salt = $sha256_salt, sha256_iterations = $sha256_iterations,
                    sha256_stored_key = $sha256_stored_key, sha256_server_key = $sha256_server_key
                WHERE domain = $domain AND username = $username;
                """, domain, username);
            AddCredential(command, "sha1", sha1);
            AddCredential(command, "sha256", sha256);
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);
    }

    public async ValueTask<bool> DeleteAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        // Per-account tables of later migrations reference accounts with ON DELETE CASCADE (foreign_keys = ON).
        return await storage.WriteAsync("delete account", connection =>
        {
            using var command = SqliteStorage.Command(connection, "DELETE FROM accounts WHERE domain = $domain AND username = $username;", domain, username);
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken);
    }

    public async ValueTask<IReadOnlyList<string>> ListAsync(string domain, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        return await storage.ReadAsync<IReadOnlyList<string>>("list accounts", connection =>
        {
            using var command = SqliteStorage.Command(connection, "SELECT username FROM accounts WHERE domain = $domain;", domain);
            using var reader = command.ExecuteReader();
            var names = new List<string>();
            while (reader.Read()) names.Add(reader.GetString(0));
            // Sorted here with ordinal comparison so the order matches .NET string ordering exactly.
            names.Sort(StringComparer.Ordinal);
            return names;
        }, cancellationToken);
    }

    private static void CheckCredentials(ScramCredential sha1, ScramCredential sha256)
    {
        ArgumentNullException.ThrowIfNull(sha1);
        ArgumentNullException.ThrowIfNull(sha256);
        if (sha1.Hash != ScramHash.Sha1) throw new ArgumentException("The SHA-1 credential has the wrong hash.", nameof(sha1));
        if (sha256.Hash != ScramHash.Sha256) throw new ArgumentException("The SHA-256 credential has the wrong hash.", nameof(sha256));
    }

    private static void AddCredential(SqliteCommand command, string prefix, ScramCredential credential)
    {
        command.Parameters.AddWithValue($"${prefix}_salt", credential.Salt);
        command.Parameters.AddWithValue($"${prefix}_iterations", credential.Iterations);
        command.Parameters.AddWithValue($"${prefix}_stored_key", credential.StoredKey);
        command.Parameters.AddWithValue($"${prefix}_server_key", credential.ServerKey);
    }

    private static ScramCredential ReadCredential(SqliteDataReader reader, ScramHash hash, int first) => new(
        hash,
        reader.GetFieldValue<byte[]>(first),
        reader.GetInt32(first + 1),
        reader.GetFieldValue<byte[]>(first + 2),
        reader.GetFieldValue<byte[]>(first + 3));
}
