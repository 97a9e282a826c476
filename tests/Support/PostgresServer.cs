using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Tendril.Tests.Support;

/// <summary>
/// A throwaway PostgreSQL cluster for tests: <c>initdb</c> into a temporary folder, <c>pg_ctl start</c> on a free port
/// with its unix socket in that folder, and on dispose <c>pg_ctl stop</c> and the folder deleted. PostgreSQL refuses to
/// run as root, so as root the binaries run as the <c>postgres</c> user (<c>runuser</c>) in a folder it owns. The
/// binaries are the newest <c>/usr/lib/postgresql/*/bin</c> (Debian's <c>postgresql</c> package, which test.sh
/// installs), or <c>$TENDRIL_PG_BIN</c>.
/// </summary>
/// <remarks>
/// Shared source: test projects include it with <c>&lt;Compile Include="../Support/*.cs" LinkBase="Support" /&gt;</c> and
/// reference Npgsql. One cluster serves a whole test run (an xunit collection fixture, see
/// <see cref="PostgresCollection"/>); each test class takes a fresh database from <see cref="CreateDatabaseAsync"/>.
/// </remarks>
public sealed class PostgresServer : IAsyncDisposable
{
    private static int s_databases;
    private readonly string _binDirectory;
    private readonly bool _asPostgresUser;

    private PostgresServer(string binDirectory, string directory, int port, bool asPostgresUser)
    {
        _binDirectory = binDirectory;
        Directory = directory;
        Port = port;
        _asPostgresUser = asPostgresUser;
    }

    /// <summary>The temporary folder: the cluster in <c>data/</c>, the socket, <c>server.log</c>.</summary>
    public string Directory { get; }

    public string DataDirectory => Path.Combine(Directory, "data");

    public string LogFile => Path.Combine(Directory, "server.log");

    /// <summary>The TCP port on 127.0.0.1 (also the number in the socket's name).</summary>
    public int Port { get; }

    /// <summary>Whether the server is running (between <see cref="StartAsync()"/> and <see cref="StopAsync"/>).</summary>
    public bool IsRunning { get; private set; }

    /// <summary>Creates and starts a cluster.</summary>
    public static async Task<PostgresServer> StartNewAsync()
    {
        var bin = FindBinDirectory()
            ?? throw new InvalidOperationException("PostgreSQL binaries not found: install Debian's 'postgresql' package (./test.sh does) or set TENDRIL_PG_BIN.");
        // Short path: a unix socket path is limited to 107 bytes.
        var directory = Path.Combine(Path.GetTempPath(), "tpg-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        var asPostgresUser = Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root" || GetUid() == 0;
        var server = new PostgresServer(bin, directory, FreePort(), asPostgresUser);
        try
        {
            if (asPostgresUser) await RunAsync("chown", ["-R", "postgres:postgres", directory]);
            await server.RunPgAsync("initdb", ["-D", server.DataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"]);
            await server.StartAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the (stopped) server again on the same port and data.</summary>
    public async Task StartAsync()
    {
        var options = string.Join(' ',
            "-p", Port.ToString(CultureInfo.InvariantCulture),
            "-k", Directory,
            "-c", "listen_addresses=127.0.0.1",
            "-c", "max_connections=300",
            "-c", "shared_buffers=32MB",
            // A test cluster: durability is not needed, speed on a shared 2-core machine is.
            "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "shared_preload_libraries=pg_stat_statements");
        await RunPgAsync("pg_ctl", ["-D", DataDirectory, "-l", LogFile, "-o", options, "-w", "-t", "120", "start"]);
        IsRunning = true;
    }

    /// <summary>Stops the server (fast shutdown: open connections are terminated), as an outage.</summary>
    public async Task StopAsync()
    {
        IsRunning = false;
        await RunPgAsync("pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "-t", "120", "stop"]);
    }

    /// <summary>A connection string for <paramref name="database"/> over the unix socket.</summary>
    public string ConnectionString(string database = "postgres", int? maxPoolSize = null)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = Directory,
            Port = Port,
            Username = "postgres",
            Database = database,
            // Short waits: a test of an outage must see the failure quickly, not a 15 s connect timeout.
            Timeout = 10,
        };
        if (maxPoolSize is { } max) builder.MaxPoolSize = max;
        return builder.ToString();
    }

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string? prefix = null)
    {
        var name = $"{prefix ?? "t"}_{Environment.ProcessId}_{Interlocked.Increment(ref s_databases)}".ToLowerInvariant();
        await using (var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\";", connection);
            await command.ExecuteNonQueryAsync();
        }
        return ConnectionString(name);
    }

    /// <summary>Runs one SQL statement on <paramref name="connectionString"/>'s database and returns the first value.</summary>
    public static async Task<object?> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    /// <summary>Runs a query on <paramref name="connectionString"/>'s database and returns every row's values.</summary>
    public static async Task<List<object?[]>> QueryAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<object?[]>();
        while (await reader.ReadAsync())
        {
            var row = new object?[reader.FieldCount];
            for (var i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            rows.Add(row);
        }
        return rows;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
                await RunPgAsync("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "-t", "60", "stop"]);
        }
        catch (InvalidOperationException)
        {
            // already stopped
        }
        IsRunning = false;
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private Task RunPgAsync(string program, IReadOnlyList<string> arguments)
    {
        var path = Path.Combine(_binDirectory, program);
        return _asPostgresUser
            ? RunAsync("runuser", ["-u", "postgres", "--", path, .. arguments])
            : RunAsync(path, arguments);
    }

    private static async Task RunAsync(string program, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}{await stdout}");
    }

    private static string? FindBinDirectory()
    {
        var configured = Environment.GetEnvironmentVariable("TENDRIL_PG_BIN");
        if (!string.IsNullOrEmpty(configured)) return configured;
        const string root = "/usr/lib/postgresql";
        if (!System.IO.Directory.Exists(root)) return null;
        return System.IO.Directory.GetDirectories(root)
            .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0))
            .Where(d => File.Exists(Path.Combine(d.Dir, "initdb")))
            .OrderByDescending(d => d.Version)
            .Select(d => d.Dir)
            .FirstOrDefault();
    }

    private static int FreePort() => LoopbackPorts.Free();

    private static uint GetUid()
    {
        try
        {
            // /proc/self/status: "Uid:\treal\teffective\t..."
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith("Uid:", StringComparison.Ordinal)) continue;
                var parts = line.Split('\t', StringSplitOptions.RemoveEmptyEntries);
                return uint.Parse(parts[2], CultureInfo.InvariantCulture);
            }
        }
        catch (IOException)
        {
        }
        return uint.MaxValue;
    }
}

/// <summary>The xunit collection fixture: one cluster for every test class of the collection, stopped at the end.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public PostgresServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await PostgresServer.StartNewAsync();

    public async Task DisposeAsync()
    {
        if (Server is not null) await Server.DisposeAsync();
    }
}

/// <summary>Test classes marked <c>[Collection(PostgresCollection.Name)]</c> share one <see cref="PostgresFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "PostgreSQL";
}
