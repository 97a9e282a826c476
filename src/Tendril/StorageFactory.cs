using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tendril.Server.Configuration;
using Tendril.Storage;
using Tendril.Storage.Postgres;
using Tendril.Storage.Sqlite;

namespace Tendril;

/// <summary>
/// Picks the storage backend from <c>Tendril:Storage:Provider</c>: the embedded SQLite file (default) or PostgreSQL.
/// Every command that opens storage (<c>serve</c>, the user commands) goes through here.
/// </summary>
internal static class StorageFactory
{
    /// <summary>A new, not yet initialized storage for the configured backend.</summary>
    public static IStorage Create(TendrilOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggerFactory ??= NullLoggerFactory.Instance;
        return options.Storage.Provider switch
        {
            StorageOptions.Postgres => CreatePostgres(options, loggerFactory),
            _ => new SqliteStorage(CliConfiguration.DatabasePath(options), loggerFactory.CreateLogger<SqliteStorage>()),
        };
    }

    /// <summary>Checks the backend's settings (the PostgreSQL connection string's syntax) without connecting.</summary>
    public static void Validate(TendrilOptions options)
    {
        if (options.Storage.Provider != StorageOptions.Postgres) return;
        try
        {
            new PostgresStorageOptions(ConnectionString(options)).Validate();
        }
        catch (ArgumentException e)
        {
            throw new CliException(ExitCodes.UserError, $"Tendril:Storage:PostgresConnectionString: {e.Message}", e);
        }
    }

    /// <summary>What the storage is, for the start-up log line: the file, or the connection string without its password.</summary>
    public static string Describe(TendrilOptions options) => options.Storage.Provider switch
    {
        StorageOptions.Postgres => "PostgreSQL " + new PostgresStorageOptions(ConnectionString(options)).Redacted(),
        _ => "SQLite " + CliConfiguration.DatabasePath(options),
    };

    /// <summary>Creates and initializes the storage (migrations included); the caller disposes it.</summary>
    public static async Task<IStorage> OpenAsync(TendrilOptions options, CancellationToken cancellationToken, ILoggerFactory? loggerFactory = null)
    {
        var storage = Create(options, loggerFactory);
        try
        {
            await storage.InitializeAsync(cancellationToken);
            return storage;
        }
        catch
        {
            await storage.DisposeAsync();
            throw;
        }
    }

    private static PostgresStorage CreatePostgres(TendrilOptions options, ILoggerFactory loggerFactory)
    {
        Validate(options);
        return new PostgresStorage(ConnectionString(options), loggerFactory.CreateLogger<PostgresStorage>());
    }

    /// <summary>The PostgreSQL connection string with <c>Storage:PostgresPassword</c> merged in (when set).</summary>
    internal static string ConnectionString(TendrilOptions options)
    {
        var connectionString = options.Storage.PostgresConnectionString;
        if (string.IsNullOrEmpty(options.Storage.PostgresPassword) || string.IsNullOrWhiteSpace(connectionString)) return connectionString;
        try
        {
            return PostgresStorageOptions.WithPassword(connectionString, options.Storage.PostgresPassword);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            return connectionString; // malformed: Validate says so in its words
        }
    }
}
