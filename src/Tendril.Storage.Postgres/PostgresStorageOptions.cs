using Npgsql;

namespace Tendril.Storage.Postgres;

/// <summary>Settings of <see cref="PostgresStorage"/>.</summary>
/// <param name="ConnectionString">
/// An Npgsql connection string (<c>Host=db;Database=tendril;Username=tendril;Password=…</c>). Pooling is on by default;
/// <c>Maximum Pool Size</c> bounds the connections (callers wait up to <c>Timeout</c> seconds for one when all are busy),
/// <c>Command Timeout</c> bounds a single statement.
/// </param>
public sealed record PostgresStorageOptions(string ConnectionString)
{
    /// <summary>The advisory-lock key taken while migrating, so nodes starting at once migrate one after another.</summary>
    public long MigrationLockKey { get; init; } = 0x54_65_6E_64_72_69_6C; // "Tendril"

    /// <summary>Throws <see cref="ArgumentException"/> for an empty or malformed connection string.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString)) throw new ArgumentException("The PostgreSQL connection string is empty.", nameof(ConnectionString));
        try
        {
            _ = new NpgsqlConnectionStringBuilder(ConnectionString);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new ArgumentException($"The PostgreSQL connection string is not valid: {e.Message}", nameof(ConnectionString), e);
        }
    }

    /// <summary>
    /// <paramref name="connectionString"/> with <paramref name="password"/> as its Password (replacing one it has); the
    /// string unchanged when the password is empty. Every other keyword (Host, Port, Database…) is kept.
    /// </summary>
    public static string WithPassword(string connectionString, string? password)
    {
        if (string.IsNullOrEmpty(password)) return connectionString;
        return new NpgsqlConnectionStringBuilder(connectionString) { Password = password }.ConnectionString;
    }

    /// <summary>The connection string with the password hidden, for logs and error messages.</summary>
    public string Redacted()
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        if (!string.IsNullOrEmpty(builder.Password)) builder.Password = "***";
        return builder.ToString();
    }
}
