using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace Tendril.Storage.Postgres;

/// <summary>
/// The PostgreSQL storage backend (Npgsql): for several nodes sharing one database, or an operator who already runs
/// PostgreSQL. Semantics are those of <c>SqliteStorage</c> — same ordering, quotas, idempotency and errors.
/// </summary>
/// <remarks>
/// <para>
/// One <see cref="NpgsqlDataSource"/> owns the connection pool. Every operation takes a pooled connection, sends its
/// statements — several at once as one <see cref="NpgsqlBatch"/> (one round trip, one implicit transaction) where
/// SQLite runs a transaction — and returns the connection. Npgsql is asynchronous all the way, so no thread blocks.
/// </para>
/// <para>
/// Cancellation is honoured only while waiting for a connection: once an operation has its connection it runs to the
/// end, so an <see cref="OperationCanceledException"/> always means the operation did not run (as with SQLite's
/// queues). Every database failure — server down, connection lost, constraint violated — surfaces as
/// <see cref="StorageException"/>. Npgsql discards pooled connections the server has closed when it hands them out; a
/// failure that breaks a connection also clears the pool (idle connections whose end the network never reported, as
/// after a failover), so when the server is back the next operation opens fresh connections: the storage recovers by
/// itself.
/// </para>
/// </remarks>
public sealed class PostgresStorage : IStorage
{
    private static readonly Meter s_meter = new(StorageMetrics.MeterName);
    private static readonly Histogram<double> s_duration = s_meter.CreateHistogram<double>("tendril.storage.operation.duration.seconds",
        unit: "s", description: "Storage operation latency (queue wait plus execution), in seconds, by queue and operation.");
    private static readonly KeyValuePair<string, object?> PoolQueue = new("queue", "postgres");

    private readonly PostgresStorageOptions _options;
    private readonly ILogger _logger;
    private readonly NpgsqlDataSource _dataSource;
    private readonly SemaphoreSlim _initLock = new(1, 1);
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _initialized;
    private int _disposed;
    private int _active;

    public PostgresStorage(string connectionString, ILogger<PostgresStorage>? logger = null)
        : this(new PostgresStorageOptions(connectionString), logger)
    {
    }

    public PostgresStorage(PostgresStorageOptions options, ILogger<PostgresStorage>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        var builder = new NpgsqlDataSourceBuilder(options.ConnectionString);
        builder.ConnectionStringBuilder.ApplicationName ??= "tendril";
        // Operations leave no session state behind (transactions end inside the operation, the migration lock is
        // released), so a connection returning to the pool needs no DISCARD ALL: one statement less per operation.
        builder.ConnectionStringBuilder.NoResetOnClose = true;
        _dataSource = builder.Build();
        Accounts = new PostgresAccountStore(this);
        Rosters = new PostgresRosterStore(this);
        Offline = new PostgresOfflineStore(this);
        PubSub = new PostgresPubSubStore(this);
        AccountData = new PostgresAccountDataStore(this);
        Archive = new PostgresArchiveStore(this, ArchiveTables.Accounts);
        Muc = new PostgresMucStore(this, new PostgresArchiveStore(this, ArchiveTables.Rooms));
    }

    /// <summary>The schema version after <see cref="InitializeAsync"/>; 0 before.</summary>
    public int SchemaVersion { get; private set; }

    /// <summary>The connection string with the password hidden.</summary>
    public string Description => _options.Redacted();

    public IAccountStore Accounts { get; }

    public IRosterStore Rosters { get; }

    public IOfflineStore Offline { get; }

    public IPubSubStore PubSub { get; }

    public IAccountDataStore AccountData { get; }

    public IArchiveStore Archive { get; }

    public IMucStore Muc { get; }

    /// <summary>
    /// Applies pending migrations in one transaction while holding a PostgreSQL advisory lock, so nodes that start at
    /// the same time migrate one after another (the later ones find the schema current). Calling it again is harmless.
    /// </summary>
    public async ValueTask InitializeAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _initLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_initialized) return;
            int from, to;
            try
            {
                (from, to) = await MigrateAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not (StorageException or OperationCanceledException))
            {
                throw new StorageException($"PostgreSQL ({_options.Redacted()}) could not be opened: {e.Message}", e);
            }
            SchemaVersion = to;
            _initialized = true;
            if (from == to)
                _logger.LogInformation("PostgreSQL database opened (schema version {Version})", to);
            else
                _logger.LogInformation("PostgreSQL database migrated from schema version {From} to {To}", from, to);
        }
        finally
        {
            _initLock.Release();
        }
    }

    private async Task<(int From, int To)> MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_lock($1);", connection))
        {
            lockCommand.CommandTimeout = 0; // another node may be migrating: wait for it (bounded by the caller's token)
            lockCommand.Parameters.Add(new NpgsqlParameter<long> { TypedValue = _options.MigrationLockKey });
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var create = new NpgsqlCommand("""
                CREATE TABLE IF NOT EXISTS schema_version (
                    version     integer PRIMARY KEY,
                    description text    NOT NULL,
                    applied_at  bigint  NOT NULL
                );
                """, connection, transaction))
            {
                await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            int current;
            await using (var read = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM schema_version;", connection, transaction))
            {
                current = Convert.ToInt32(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
            }
            var latest = PostgresMigrations.LatestVersion;
            if (current > latest)
                throw new StorageException($"The PostgreSQL database has schema version {current}, newer than this Tendril supports ({latest}).");
            foreach (var migration in PostgresMigrations.All)
            {
                if (migration.Version <= current) continue;
                await using (var step = new NpgsqlCommand(migration.Sql, connection, transaction))
                {
                    await step.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
                await using (var record = new NpgsqlCommand("INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3);", connection, transaction))
                {
                    record.Parameters.Add(new NpgsqlParameter<int> { TypedValue = migration.Version });
                    record.Parameters.Add(new NpgsqlParameter<string> { TypedValue = migration.Description });
                    record.Parameters.Add(new NpgsqlParameter<long> { TypedValue = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() });
                    await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
                _logger.LogInformation("Applied PostgreSQL migration {Version} ({Description})", migration.Version, migration.Description);
            }
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return (current, Math.Max(current, latest));
        }
        finally
        {
            // Closing the connection would release the lock too, but it goes back to the pool open.
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock($1);", connection);
                unlock.Parameters.Add(new NpgsqlParameter<long> { TypedValue = _options.MigrationLockKey });
                try
                {
                    await unlock.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (NpgsqlException e)
                {
                    _logger.LogDebug(e, "Releasing the migration lock failed (the connection's end releases it)");
                }
            }
        }
    }

    /// <summary>Refuses new work, waits for the operations in flight, then closes the pool.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        if (Volatile.Read(ref _active) == 0) _drained.TrySetResult();
        await _drained.Task.ConfigureAwait(false);
        await _dataSource.DisposeAsync().ConfigureAwait(false);
        _initLock.Dispose();
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a pooled connection. The token only cancels the wait for a connection; the work
    /// itself runs with no token (see the class remarks).
    /// </summary>
    internal async Task<T> RunAsync<T>(string operation, Func<NpgsqlConnection, Task<T>> work, CancellationToken cancellationToken)
    {
        Enter();
        var started = Stopwatch.GetTimestamp();
        NpgsqlConnection? connection = null;
        try
        {
            connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return await work(connection).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            if (IsConnectionFailure(e, connection))
            {
                // The server went away (restart, failover, network): the pool's idle connections are dead too.
                // Clearing it makes the next operations open fresh connections instead of failing one by one.
                _dataSource.Clear();
            }
            throw Wrap(operation, e);
        }
        finally
        {
            if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
            if (s_duration.Enabled)
                s_duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, PoolQueue, new KeyValuePair<string, object?>("operation", operation));
            Leave();
        }
    }

    private void Enter()
    {
        Interlocked.Increment(ref _active);
        if (Volatile.Read(ref _disposed) != 0)
        {
            Leave();
            throw new ObjectDisposedException(nameof(PostgresStorage));
        }
        if (!_initialized)
        {
            Leave();
            throw new InvalidOperationException("PostgresStorage.InitializeAsync must complete before other calls.");
        }
    }

    private void Leave()
    {
        if (Interlocked.Decrement(ref _active) == 0 && Volatile.Read(ref _disposed) != 0) _drained.TrySetResult();
    }

    /// <summary>
    /// Whether the failure says the server or the network went away (so the pool's idle connections are dead too), as
    /// opposed to an error of the statement or a full pool (a timeout waiting for a connection: the pool is fine).
    /// </summary>
    private static bool IsConnectionFailure(Exception e, NpgsqlConnection? connection)
    {
        if (connection is not null && (connection.FullState & System.Data.ConnectionState.Broken) != 0) return true;
        return e switch
        {
            // 08: connection exception; 57P01..57P03: admin shutdown, crash shutdown, cannot connect now (starting up).
            PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("57P", StringComparison.Ordinal),
            NpgsqlException { InnerException: IOException or System.Net.Sockets.SocketException or EndOfStreamException } => true,
            _ => false,
        };
    }

    internal static Exception Wrap(string operation, Exception e) => e switch
    {
        StorageException or ArgumentException or ObjectDisposedException => e,
        // The server answered with an error that says nothing about availability (constraint, data, syntax, schema:
        // not class 08, 40, 53, 55P03, 57P, 58 — Npgsql's IsTransient): the same statement fails again.
        _ => new StorageException($"PostgreSQL {operation} failed: {e.Message}", e) { IsPermanent = e is PostgresException { IsTransient: false } },
    };
}

/// <summary>Typed positional parameters (<c>$1</c>, <c>$2</c>…) without boxing.</summary>
internal static class NpgsqlParameters
{
    public static NpgsqlParameterCollection Param<T>(this NpgsqlParameterCollection parameters, T value)
    {
        parameters.Add(new NpgsqlParameter<T> { TypedValue = value });
        return parameters;
    }

    public static NpgsqlParameterCollection ParamNullableText(this NpgsqlParameterCollection parameters, string? value)
    {
        parameters.Add(new NpgsqlParameter { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return parameters;
    }

    public static NpgsqlCommand Command(this NpgsqlConnection connection, string sql) => new(sql, connection);

    public static NpgsqlBatchCommand BatchCommand(this NpgsqlBatch batch, string sql)
    {
        var command = new NpgsqlBatchCommand(sql);
        batch.BatchCommands.Add(command);
        return command;
    }
}
