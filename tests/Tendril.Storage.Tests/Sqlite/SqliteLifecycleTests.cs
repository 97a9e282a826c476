using Microsoft.Data.Sqlite;
using Tendril.Storage.Sqlite;

namespace Tendril.Storage.Tests;

/// <summary>SQLite-only: the database file, its PRAGMAs and migrations.</summary>
public sealed class SqliteLifecycleTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Task<T> Scalar<T>(SqliteStorage storage, string sql) => storage.ReadAsync("test", c =>
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return (T)Convert.ChangeType(cmd.ExecuteScalar()!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }, default);

    [Fact]
    public async Task Migrations_are_applied_once_and_are_idempotent_on_restart()
    {
        var path = _dir.File("tendril.db");
        for (var run = 0; run < 3; run++)
        {
            await using var storage = new SqliteStorage(path);
            await storage.InitializeAsync();
            await storage.InitializeAsync(); // a second call on the same instance is harmless too
            Assert.Equal(SqliteMigrations.LatestVersion, storage.SchemaVersion);
            Assert.Equal(SqliteMigrations.All.Count, await Scalar<int>(storage, "SELECT COUNT(*) FROM schema_version;"));
            Assert.Equal(SqliteMigrations.LatestVersion, await Scalar<int>(storage, "SELECT MAX(version) FROM schema_version;"));
        }
    }

    [Fact]
    public async Task A_roster_written_before_roster_deltas_keeps_its_items_and_version_and_older_versions_are_unknown()
    {
        // A database at schema 6 (before migration 7 added per-item versions and removals), with juliet's roster at 3.
        var path = _dir.File("tendril.db");
        await using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await connection.OpenAsync();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at INTEGER NOT NULL);"
                + string.Concat(SqliteMigrations.All.Where(m => m.Version <= 6).Select(m => m.Sql + $"INSERT INTO schema_version VALUES ({m.Version}, 'x', 0);"))
                + """
                INSERT INTO accounts VALUES ('example.org', 'juliet', 0, x'00', 4096, x'00', x'00', x'00', 4096, x'00', x'00');
                INSERT INTO roster_versions VALUES ('example.org', 'juliet', 3);
                INSERT INTO roster_items VALUES ('example.org', 'juliet', 'romeo@example.org', 'Romeo', 3, 0, 0, '[]');
                """;
            command.ExecuteNonQuery();
        }
        await using var storage = new SqliteStorage(path);
        await storage.InitializeAsync();
        Assert.Equal(SqliteMigrations.LatestVersion, storage.SchemaVersion);
        await RosterDeltaMigration.AssertKeptAsync(storage);
    }

    [Fact]
    public void Migration_versions_are_contiguous_from_one()
    {
        for (var i = 0; i < SqliteMigrations.All.Count; i++)
        {
            Assert.Equal(i + 1, SqliteMigrations.All[i].Version);
            Assert.False(string.IsNullOrWhiteSpace(SqliteMigrations.All[i].Description));
        }
    }

    [Fact]
    public async Task A_database_from_a_newer_version_is_refused()
    {
        var path = _dir.File("tendril.db");
        await using (var storage = new SqliteStorage(path))
        {
            await storage.InitializeAsync();
            await storage.WriteAsync("test", c =>
            {
                using var cmd = c.CreateCommand();
                cmd.CommandText = "INSERT INTO schema_version (version, description, applied_at) VALUES (999, 'future', 0);";
                return cmd.ExecuteNonQuery();
            }, default);
        }
        await using var reopened = new SqliteStorage(path);
        var e = await Assert.ThrowsAsync<StorageException>(async () => await reopened.InitializeAsync());
        Assert.Contains("999", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pragmas_are_set()
    {
        await using var storage = new SqliteStorage(_dir.File("tendril.db"));
        await storage.InitializeAsync();
        Assert.Equal("wal", await Scalar<string>(storage, "PRAGMA journal_mode;"));
        Assert.Equal(1, await Scalar<int>(storage, "PRAGMA foreign_keys;"));
        Assert.Equal(1, await Scalar<int>(storage, "PRAGMA synchronous;")); // NORMAL
        Assert.Equal(5000, await Scalar<int>(storage, "PRAGMA busy_timeout;"));
    }

    [Fact]
    public async Task Missing_folders_are_created()
    {
        var path = Path.Combine(_dir.Path, "a", "b", "tendril.db");
        await using var storage = new SqliteStorage(path);
        await storage.InitializeAsync();
        Assert.True(File.Exists(path));
    }

    [Fact]
    public async Task A_corrupt_file_surfaces_as_StorageException()
    {
        var path = _dir.File("corrupt.db");
        await File.WriteAllBytesAsync(path, Enumerable.Repeat((byte)0x5A, 8192).ToArray());
        await using var storage = new SqliteStorage(path);
        var e = await Assert.ThrowsAsync<StorageException>(async () => await storage.InitializeAsync());
        Assert.IsType<SqliteException>(e.InnerException);
    }

    [Fact]
    public async Task A_folder_in_place_of_the_database_surfaces_as_StorageException()
    {
        var path = _dir.File("is-a-folder.db");
        Directory.CreateDirectory(path);
        await using var storage = new SqliteStorage(path);
        var e = await Assert.ThrowsAsync<StorageException>(async () => await storage.InitializeAsync());
        Assert.NotNull(e.InnerException);
    }

    [Fact]
    public async Task Sql_errors_during_an_operation_surface_as_StorageException()
    {
        await using var storage = new SqliteStorage(_dir.File("tendril.db"));
        await storage.InitializeAsync();
        var e = await Assert.ThrowsAsync<StorageException>(() => Scalar<int>(storage, "SELECT * FROM no_such_table;"));
        Assert.IsType<SqliteException>(e.InnerException);
        // The worker survives the error.
        Assert.Empty(await storage.Accounts.ListAsync("example.org"));
    }

    [Fact]
    public async Task Reader_connections_cannot_write()
    {
        await using var storage = new SqliteStorage(_dir.File("tendril.db"));
        await storage.InitializeAsync();
        await Assert.ThrowsAsync<StorageException>(() => Scalar<int>(storage, "DELETE FROM accounts;"));
    }

    [Fact]
    public async Task Dispose_releases_the_file()
    {
        var path = _dir.File("tendril.db");
        var storage = new SqliteStorage(path);
        await storage.InitializeAsync();
        await storage.Accounts.CreateAsync(Accounts.Make("juliet"));
        await storage.DisposeAsync();
        File.Delete(path);
        File.Delete(path + "-wal");
        File.Delete(path + "-shm");
        Assert.False(File.Exists(path));
    }
}
