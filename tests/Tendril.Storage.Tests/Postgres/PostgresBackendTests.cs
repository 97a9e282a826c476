using Npgsql;
using Tendril.Storage.Postgres;
using Tendril.Tests.Support;

namespace Tendril.Storage.Tests;

/// <summary>PostgreSQL-only: migrations under concurrent starts, the pool, outages and recovery.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresBackendTests(PostgresFixture postgres)
{
    private PostgresServer Server => postgres.Server;

    [Fact]
    public async Task Nodes_starting_at_once_migrate_once()
    {
        var connectionString = await Server.CreateDatabaseAsync();
        var nodes = Enumerable.Range(0, 5).Select(_ => new PostgresStorage(connectionString)).ToList();
        try
        {
            await Task.WhenAll(nodes.Select(n => Task.Run(async () => await n.InitializeAsync())));
            Assert.All(nodes, n => Assert.Equal(PostgresMigrations.LatestVersion, n.SchemaVersion));
            Assert.Equal((long)PostgresMigrations.All.Count, await PostgresServer.ScalarAsync(connectionString, "SELECT COUNT(*) FROM schema_version;"));
            Assert.True(await nodes[0].Accounts.CreateAsync(Accounts.Make("juliet")));
            Assert.NotNull(await nodes[4].Accounts.FindAsync("example.org", "juliet"));
        }
        finally
        {
            foreach (var n in nodes) await n.DisposeAsync();
        }
    }

    [Fact]
    public void Migration_versions_are_contiguous_from_one()
    {
        for (var i = 0; i < PostgresMigrations.All.Count; i++)
        {
            Assert.Equal(i + 1, PostgresMigrations.All[i].Version);
            Assert.False(string.IsNullOrWhiteSpace(PostgresMigrations.All[i].Description));
        }
    }

    [Fact]
    public async Task A_roster_written_before_roster_deltas_keeps_its_items_and_version_and_older_versions_are_unknown()
    {
        // A database at schema 6 (before migration 7 added per-item versions and removals), with juliet's roster at 3.
        var connectionString = await Server.CreateDatabaseAsync();
        var sql = "CREATE TABLE schema_version (version integer PRIMARY KEY, description text NOT NULL, applied_at bigint NOT NULL);"
            + string.Concat(PostgresMigrations.All.Where(m => m.Version <= 6).Select(m => m.Sql + $"INSERT INTO schema_version VALUES ({m.Version}, 'x', 0);"))
            + """
            INSERT INTO accounts VALUES ('example.org', 'juliet', 0, '\x00', 4096, '\x00', '\x00', '\x00', 4096, '\x00', '\x00');
            INSERT INTO roster_versions VALUES ('example.org', 'juliet', 3);
            INSERT INTO roster_items VALUES ('example.org', 'juliet', 'romeo@example.org', 'Romeo', 3, false, false, '{}');
            SELECT 1;
            """;
        await PostgresServer.ScalarAsync(connectionString, sql);
        await using var storage = new PostgresStorage(connectionString);
        await storage.InitializeAsync();
        Assert.Equal(PostgresMigrations.LatestVersion, storage.SchemaVersion);
        await RosterDeltaMigration.AssertKeptAsync(storage);
    }

    [Fact]
    public async Task A_database_from_a_newer_version_is_refused()
    {
        var connectionString = await Server.CreateDatabaseAsync();
        await using (var storage = new PostgresStorage(connectionString))
        {
            await storage.InitializeAsync();
        }
        await PostgresServer.ScalarAsync(connectionString, "INSERT INTO schema_version (version, description, applied_at) VALUES (999, 'future', 0);");
        await using var reopened = new PostgresStorage(connectionString);
        var e = await Assert.ThrowsAsync<StorageException>(async () => await reopened.InitializeAsync());
        Assert.Contains("999", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_server_fails_initialize_with_StorageException_and_no_password_in_the_message()
    {
        var builder = new NpgsqlConnectionStringBuilder(Server.ConnectionString()) { Port = 1, Password = "hunter2", Timeout = 5 };
        await using var storage = new PostgresStorage(builder.ToString());
        var e = await Assert.ThrowsAsync<StorageException>(async () => await storage.InitializeAsync());
        Assert.IsAssignableFrom<NpgsqlException>(e.InnerException);
        Assert.DoesNotContain("hunter2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_connection_string_is_refused_at_construction()
    {
        Assert.Throws<ArgumentException>(() => new PostgresStorage("Host=x;NoSuchKeyword=1"));
        Assert.Throws<ArgumentException>(() => new PostgresStorage(""));
    }

    [Fact]
    public async Task Sql_errors_surface_as_StorageException_and_the_pool_goes_on()
    {
        await using var storage = new PostgresStorage(await Server.CreateDatabaseAsync());
        await storage.InitializeAsync();
        var e = await Assert.ThrowsAsync<StorageException>(() => storage.RunAsync("test", async c =>
        {
            await using var command = new NpgsqlCommand("SELECT * FROM no_such_table;", c);
            return await command.ExecuteScalarAsync();
        }, default));
        Assert.IsType<PostgresException>(e.InnerException);
        Assert.True(e.IsPermanent); // the same statement fails the same way: a retry cannot mend it
        // A constraint violation too: a roster item for an account that does not exist.
        var constraint = await Assert.ThrowsAsync<StorageException>(async () => await storage.Rosters.SetItemAsync("example.org", "nobody", RosterItem.Create("a@b")));
        Assert.True(constraint.IsPermanent);
        Assert.Empty(await storage.Accounts.ListAsync("example.org"));
    }

    [Fact]
    public async Task Canceling_while_waiting_for_a_connection_means_the_operation_never_runs()
    {
        var connectionString = await Server.CreateDatabaseAsync();
        await using var storage = new PostgresStorage(new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = 1 }.ToString());
        await storage.InitializeAsync();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = storage.RunAsync("block", async _ => { holding.SetResult(); await gate.Task; return 0; }, default);
        await holding.Task;

        using var cts = new CancellationTokenSource();
        var create = storage.Accounts.CreateAsync(Accounts.Make("juliet"), cts.Token).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => create);
        gate.SetResult();
        await blocker;
        Assert.Null(await storage.Accounts.FindAsync("example.org", "juliet"));
    }

    [Fact]
    public async Task Dispose_waits_for_operations_in_flight()
    {
        var storage = new PostgresStorage(await Server.CreateDatabaseAsync());
        await storage.InitializeAsync();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holding = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = storage.RunAsync("block", async c =>
        {
            holding.SetResult();
            await gate.Task;
            await using var command = new NpgsqlCommand("SELECT 42;", c);
            return (int)(await command.ExecuteScalarAsync())!;
        }, default);
        await holding.Task;
        var disposing = storage.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await storage.Accounts.ListAsync("example.org"));
        gate.SetResult();
        Assert.Equal(42, await running); // the operation in flight completes on its connection
        await disposing;
    }

    [Fact]
    public async Task An_outage_gives_errors_not_hangs_and_the_storage_recovers_by_itself()
    {
        await using var storage = new PostgresStorage(await Server.CreateDatabaseAsync());
        await storage.InitializeAsync();
        Assert.True(await storage.Accounts.CreateAsync(Accounts.Make("juliet")));
        // Eight connections open at once, then idle in the pool: the outage kills them all.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var opened = 0;
        var holders = Enumerable.Range(0, 8).Select(_ => storage.RunAsync("hold", async c =>
        {
            if (Interlocked.Increment(ref opened) == 8) gate.SetResult();
            await gate.Task;
            return 0;
        }, default)).ToList();
        await Task.WhenAll(holders);

        await Server.StopAsync();
        try
        {
            // Not permanent: the same operation may pass once the server is back (the archive writer retries these).
            Assert.False((await Assert.ThrowsAsync<StorageException>(async () => await storage.Accounts.FindAsync("example.org", "juliet"))).IsPermanent);
            Assert.False((await Assert.ThrowsAsync<StorageException>(async () =>
                await storage.Offline.StoreAsync("example.org", "juliet", "<message/>", DateTimeOffset.UtcNow, 10))).IsPermanent);
            Assert.False((await Assert.ThrowsAsync<StorageException>(async () => await storage.Archive.AppendBatchAsync(
                [new ArchiveAppend("example.org", "juliet", new ArchivedMessage("x", DateTimeOffset.UtcNow, "a@b", ArchiveDirection.Incoming, "<message/>"))]))).IsPermanent);
        }
        finally
        {
            await Server.StartAsync();
        }

        // Back: the very next operations succeed (the dead connections were dropped from the pool).
        Assert.NotNull(await storage.Accounts.FindAsync("example.org", "juliet"));
        Assert.Equal(OfflineStoreResult.Stored, await storage.Offline.StoreAsync("example.org", "juliet", "<message/>", DateTimeOffset.UtcNow, 10));
        Assert.Equal(1, await storage.Offline.CountAsync("example.org", "juliet"));
    }
}
