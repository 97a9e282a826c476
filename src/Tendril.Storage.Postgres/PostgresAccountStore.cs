using Npgsql;
using Tendril.Protocol.Sasl;

namespace Tendril.Storage.Postgres;

/// <summary>
/// <see cref="IAccountStore"/> over the <c>accounts</c> table: each call is one statement. Usernames and domains are
/// stored exactly as given (the caller normalizes them); <c>created_at</c> keeps millisecond precision.
/// </summary>
internal sealed class PostgresAccountStore(PostgresStorage storage) : IAccountStore
{
    private const string Columns =
        "created_at, sha1_salt, sha1_iterations, sha1_stored_key, sha1_server_key, " +
        "sha256_salt, sha256_iterations, sha256_stored_key, sha256_server_key";

    public async ValueTask<Account?> FindAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        return await storage.RunAsync("find account", async connection =>
        {
            await using var command = connection.Command($"SELECT {Columns} FROM accounts WHERE domain = $1 AND username = $2;");
            command.Parameters.Param(domain).Param(username);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            if (!await reader.ReadAsync().ConfigureAwait(false)) return null;
            return new Account(
                username,
                domain,
                ReadCredential(reader, ScramHash.Sha1, 1),
                ReadCredential(reader, ScramHash.Sha256, 5),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0)));
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> CreateAsync(Account account, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        CheckCredentials(account.Sha1, account.Sha256);
        return await storage.RunAsync("create account", async connection =>
        {
            await using var command = connection.Command($"""
                INSERT INTO accounts (domain, username, {Columns})
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                ON CONFLICT (domain, username) DO NOTHING;
                """);
            command.Parameters.Param(account.Domain).Param(account.Username).Param(account.CreatedAt.ToUnixTimeMilliseconds());
            AddCredential(command, account.Sha1);
            AddCredential(command, account.Sha256);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false) == 1;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> UpdateCredentialsAsync(string domain, string username, ScramCredential sha1, ScramCredential sha256, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        CheckCredentials(sha1, sha256);
        return await storage.RunAsync("update credentials", async connection =>
        {
            await using var command = connection.Command("""
                UPDATE accounts SET
                    sha1_salt = $1, sha1_iterations = $2, sha1_stored_key = $3, sha1_server_key = $4,
                    sha256_salt = $5, sha256_iterations = $6, sha256_stored_key = $7, sha256_server_key = $8
                WHERE domain = $9 AND username = $10;
                """);
            AddCredential(command, sha1);
            AddCredential(command, sha256);
            command.Parameters.Param(domain).Param(username);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false) == 1;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<bool> DeleteAsync(string domain, string username, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(username);
        // Every per-account table references accounts with ON DELETE CASCADE: one statement removes everything.
        return await storage.RunAsync("delete account", async connection =>
        {
            await using var command = connection.Command("DELETE FROM accounts WHERE domain = $1 AND username = $2;");
            command.Parameters.Param(domain).Param(username);
            return await command.ExecuteNonQueryAsync().ConfigureAwait(false) == 1;
        }, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<string>> ListAsync(string domain, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(domain);
        return await storage.RunAsync<IReadOnlyList<string>>("list accounts", async connection =>
        {
            await using var command = connection.Command("SELECT username FROM accounts WHERE domain = $1;");
            command.Parameters.Param(domain);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            var names = new List<string>();
            while (await reader.ReadAsync().ConfigureAwait(false)) names.Add(reader.GetString(0));
            // Sorted here with ordinal comparison so the order matches .NET string ordering exactly (as SQLite's backend).
            names.Sort(StringComparer.Ordinal);
            return names;
        }, cancellationToken).ConfigureAwait(false);
    }

    private static void CheckCredentials(ScramCredential sha1, ScramCredential sha256)
    {
        ArgumentNullException.ThrowIfNull(sha1);
        ArgumentNullException.ThrowIfNull(sha256);
        if (sha1.Hash != ScramHash.Sha1) throw new ArgumentException("The SHA-1 credential has the wrong hash.", nameof(sha1));
        if (sha256.Hash != ScramHash.Sha256) throw new ArgumentException("The SHA-256 credential has the wrong hash.", nameof(sha256));
    }

    private static void AddCredential(NpgsqlCommand command, ScramCredential credential) =>
        command.Parameters.Param(credential.Salt).Param(credential.Iterations).Param(credential.StoredKey).Param(credential.ServerKey);

    private static ScramCredential ReadCredential(NpgsqlDataReader reader, ScramHash hash, int first) => new(
        hash,
        reader.GetFieldValue<byte[]>(first),
        reader.GetInt32(first + 1),
        reader.GetFieldValue<byte[]>(first + 2),
        reader.GetFieldValue<byte[]>(first + 3));
}
