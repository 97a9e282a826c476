using Tendril.Storage.Postgres;
using Tendril.Storage.Sqlite;
using Tendril.Tests.Support;

namespace Tendril.Storage.Tests;

/// <summary>
/// Where a test's data lives: a SQLite file in a temporary folder, or a fresh database in the test run's PostgreSQL
/// cluster. <see cref="OpenAsync"/> opens a new storage instance on the same data (a restart).
/// </summary>
public interface IStorageBackend : IAsyncDisposable
{
    string Name { get; }

    /// <summary>A storage instance on the data, not initialized.</summary>
    IStorage Create();

    Task<IStorage> OpenAsync();

    /// <summary>The schema version a fully migrated database has.</summary>
    int LatestSchemaVersion { get; }

    int SchemaVersion(IStorage storage);
}

public sealed class SqliteBackend : IStorageBackend
{
    private readonly TempDirectory _dir = new();

    public string Name => "sqlite";

    public string DatabasePath => _dir.File("tendril.db");

    public IStorage Create() => new SqliteStorage(DatabasePath);

    public async Task<IStorage> OpenAsync()
    {
        var storage = Create();
        await storage.InitializeAsync();
        return storage;
    }

    public int LatestSchemaVersion => SqliteMigrations.LatestVersion;

    public int SchemaVersion(IStorage storage) => ((SqliteStorage)storage).SchemaVersion;

    public ValueTask DisposeAsync()
    {
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }
}

public sealed class PostgresBackend : IStorageBackend
{
    private readonly string _connectionString;

    private PostgresBackend(string connectionString) => _connectionString = connectionString;

    /// <summary>A backend on a fresh database of <paramref name="server"/>.</summary>
    public static async Task<IStorageBackend> CreateAsync(PostgresServer server) => new PostgresBackend(await server.CreateDatabaseAsync());

    public string Name => "postgres";

    /// <summary>The test's own database.</summary>
    public string ConnectionString => _connectionString;

    public IStorage Create() => new PostgresStorage(_connectionString);

    public async Task<IStorage> OpenAsync()
    {
        var storage = Create();
        await storage.InitializeAsync();
        return storage;
    }

    public int LatestSchemaVersion => PostgresMigrations.LatestVersion;

    public int SchemaVersion(IStorage storage) => ((PostgresStorage)storage).SchemaVersion;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask; // the cluster (and its databases) goes at the end of the run
}

/// <summary>
/// The base of the backend-neutral suite: every test runs once per backend (a sealed SQLite subclass and a sealed
/// PostgreSQL subclass of each abstract test class), each test on a fresh store.
/// </summary>
public abstract class StorageTestBase : IAsyncLifetime
{
    protected IStorageBackend Backend { get; private set; } = null!;

    protected IStorage Storage { get; private set; } = null!;

    protected abstract Task<IStorageBackend> CreateBackendAsync();

    /// <summary>Runs after the storage is open: accounts the tests of the class expect.</summary>
    protected virtual Task SeedAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        Backend = await CreateBackendAsync();
        Storage = await Backend.OpenAsync();
        await SeedAsync();
    }

    /// <summary>Closes the storage and opens a new instance on the same data.</summary>
    protected async Task ReopenAsync()
    {
        await Storage.DisposeAsync();
        Storage = await Backend.OpenAsync();
    }

    public async Task DisposeAsync()
    {
        await Storage.DisposeAsync();
        await Backend.DisposeAsync();
    }
}
