using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tendril.Storage.Sqlite;

/// <summary>
/// The embedded storage backend: one SQLite database file in WAL mode.
/// </summary>
/// <remarks>
/// <para>
/// Microsoft.Data.Sqlite executes synchronously, so no database call ever runs on the caller's thread. Work goes
/// through two bounded queues (<see cref="Channel"/>s): writes to a single writer thread that owns the only
/// read-write connection (SQLite allows one writer at a time anyway, so this serializes writes without lock
/// contention), reads to a small pool of reader threads, each with its own connection (WAL lets them read while
/// the writer commits). Callers await a <see cref="TaskCompletionSource{T}"/> created with
/// <see cref="TaskCreationOptions.RunContinuationsAsynchronously"/>. When a queue is full, callers wait
/// asynchronously for room. Database errors surface as <see cref="StorageException"/>.
/// </para>
/// <para>
/// A read issued after a write has completed sees that write (each read starts a fresh WAL snapshot).
/// </para>
/// </remarks>
public sealed class SqliteStorage : IStorage
{
    /// <summary>The storage meter: operation latency from enqueue to completion, by queue (read/write) and operation.</summary>
    public const string MeterName = StorageMetrics.MeterName;

    private static readonly Meter s_meter = new(MeterName);
    private static readonly Histogram<double> s_duration = s_meter.CreateHistogram<double>("tendril.storage.operation.duration.seconds",
        unit: "s", description: "Storage operation latency (queue wait plus execution), in seconds, by queue and operation.");
    private static readonly KeyValuePair<string, object?> ReadQueue = new("queue", "read");
    private static readonly KeyValuePair<string, object?> WriteQueue = new("queue", "write");

    private readonly SqliteStorageOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<SqliteWorkItem> _writes;
    private readonly Channel<SqliteWorkItem> _reads;
    private readonly List<Task> _workers = [];
    private readonly SemaphoreSlim _initLock = new(1, 1);
    private volatile bool _initialized;
    private int _disposed;

    public SqliteStorage(string databasePath, ILogger<SqliteStorage>? logger = null)
        : this(new SqliteStorageOptions(databasePath), logger)
    {
    }

    public SqliteStorage(SqliteStorageOptions options, ILogger<SqliteStorage>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options with { DatabasePath = Path.GetFullPath(options.DatabasePath) };
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _writes = Channel.CreateBounded<SqliteWorkItem>(new BoundedChannelOptions(options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _reads = Channel.CreateBounded<SqliteWorkItem>(new BoundedChannelOptions(options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = options.ReaderThreads == 1,
        });
        Accounts = new SqliteAccountStore(this);
        Rosters = new SqliteRosterStore(this);
        Offline = new SqliteOfflineStore(this);
        PubSub = new SqlitePubSubStore(this);
        AccountData = new SqliteAccountDataStore(this);
        Archive = new SqliteArchiveStore(this, ArchiveTables.Accounts);
        Muc = new SqliteMucStore(this, new SqliteArchiveStore(this, ArchiveTables.Rooms));
    }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => _options.DatabasePath;

    /// <summary>The schema version after <see cref="InitializeAsync"/>; 0 before.</summary>
    public int SchemaVersion { get; private set; }

    public IAccountStore Accounts { get; }

    public IRosterStore Rosters { get; }

    public IOfflineStore Offline { get; }

    public IPubSubStore PubSub { get; }

    public IAccountDataStore AccountData { get; }

    public IArchiveStore Archive { get; }

    public IMucStore Muc { get; }

    /// <summary>
    /// Creates the folder and the database if needed, sets the PRAGMAs and applies pending migrations in one
    /// transaction, then starts the reader threads. Calling it again is harmless.
    /// </summary>
    public async ValueTask InitializeAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _initLock.WaitAsync(cancellationToken);
        try
        {
            if (_initialized) return;
            try
            {
                var folder = Path.GetDirectoryName(_options.DatabasePath);
                if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new StorageException($"Cannot create the folder of the SQLite database {_options.DatabasePath}: {e.Message}", e);
            }

            if (_workers.Count == 0) _workers.Add(StartWorker(_writes.Reader, "tendril-sqlite-writer", readOnly: false));
            var (from, to) = await EnqueueAsync(_writes, "migration", Migrate, cancellationToken);
            SchemaVersion = to;
            for (var i = 0; i < _options.ReaderThreads; i++)
                _workers.Add(StartWorker(_reads.Reader, $"tendril-sqlite-reader-{i + 1}", readOnly: true));
            _initialized = true;
            if (from == to)
                _logger.LogInformation("SQLite database {Path} opened (schema version {Version})", _options.DatabasePath, to);
            else
                _logger.LogInformation("SQLite database {Path} migrated from schema version {From} to {To}", _options.DatabasePath, from, to);
        }
        finally
        {
            _initLock.Release();
        }
    }

    /// <summary>Stops accepting work, lets the queued work finish, and closes the connections.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _writes.Writer.TryComplete();
        _reads.Writer.TryComplete();
        await Task.WhenAll(_workers);
        // Items that raced with completion never reach a worker only if no worker exists (not initialized).
        while (_writes.Reader.TryRead(out var item)) item.Fail(new ObjectDisposedException(nameof(SqliteStorage)));
        while (_reads.Reader.TryRead(out var item)) item.Fail(new ObjectDisposedException(nameof(SqliteStorage)));
        _initLock.Dispose();
    }

    /// <summary>Runs <paramref name="work"/> on a reader thread with a read-only connection.</summary>
    internal Task<T> ReadAsync<T>(string operation, Func<SqliteConnection, T> work, CancellationToken cancellationToken)
    {
        EnsureReady();
        return EnqueueAsync(_reads, operation, work, cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> on the writer thread.</summary>
    internal Task<T> WriteAsync<T>(string operation, Func<SqliteConnection, T> work, CancellationToken cancellationToken)
    {
        EnsureReady();
        return EnqueueAsync(_writes, operation, work, cancellationToken);
    }

    /// <summary>
    /// A command for <paramref name="sql"/> with the account key bound: <c>$domain</c>, and <c>$username</c> when given
    /// (the set-up every per-account statement of the stores repeats), enlisted in <paramref name="transaction"/> when
    /// given. The caller disposes it; a caller that builds its SQL afterwards passes "" and sets CommandText later.
    /// </summary>
    internal static SqliteCommand Command(SqliteConnection connection, string sql, string domain, string? username = null, SqliteTransaction? transaction = null)
    {
        ArgumentNullException.ThrowIfNull(domain);
        var command = connection.CreateCommand();
        if (transaction is not null) command.Transaction = transaction; // CreateCommand already enlists the open one
        command.CommandText = sql;
        command.Parameters.AddWithValue("$domain", domain);
        if (username is not null) command.Parameters.AddWithValue("$username", username);
        return command;
    }

    private void EnsureReady()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_initialized) throw new InvalidOperationException("SqliteStorage.InitializeAsync must complete before other calls.");
    }

    private async Task<T> EnqueueAsync<T>(Channel<SqliteWorkItem> queue, string operation, Func<SqliteConnection, T> work, CancellationToken cancellationToken)
    {
        var item = new SqliteWorkItem<T>(operation, work);
        // Registered before the item is queued: a worker may take it at once, and its Execute disposes the
        // registration (the channel hand-off publishes the field to the worker).
        item.RegisterCancellation(cancellationToken);
        try
        {
            // Waits asynchronously while the queue is full (back-pressure).
            await queue.Writer.WriteAsync(item, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            item.DisposeRegistration();
            throw new ObjectDisposedException(nameof(SqliteStorage));
        }
        catch (OperationCanceledException)
        {
            item.DisposeRegistration();
            throw;
        }
        return await item.Task;
    }

    private Task StartWorker(ChannelReader<SqliteWorkItem> queue, string name, bool readOnly)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                WorkerLoop(queue, readOnly);
            }
            finally
            {
                done.TrySetResult();
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }

    private void WorkerLoop(ChannelReader<SqliteWorkItem> queue, bool readOnly)
    {
        SqliteConnection? connection = null;
        try
        {
            // A dedicated thread: blocking here is the point, so callers' threads never block.
            while (queue.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                while (queue.TryRead(out var item))
                {
                    if (!item.TryStart()) continue; // canceled while queued
                    if (connection is null)
                    {
                        try
                        {
                            connection = OpenConnection(readOnly);
                        }
                        catch (Exception e)
                        {
                            item.Fail(e);
                            continue;
                        }
                    }
                    item.Execute(connection);
                    if (s_duration.Enabled)
                    {
                        s_duration.Record(Stopwatch.GetElapsedTime(item.EnqueuedAt).TotalSeconds,
                            readOnly ? ReadQueue : WriteQueue, new KeyValuePair<string, object?>("operation", item.Operation));
                    }
                }
            }
        }
        finally
        {
            if (connection is not null)
            {
                try
                {
                    if (!readOnly) Execute(connection, "PRAGMA optimize;");
                }
                catch (SqliteException e)
                {
                    _logger.LogDebug(e, "PRAGMA optimize failed on close");
                }
                connection.Dispose();
            }
        }
    }

    private SqliteConnection OpenConnection(bool readOnly)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = _options.DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            // Each worker owns its connection for the storage's lifetime; pooling would keep the file open after disposal.
            Pooling = false,
            DefaultTimeout = Math.Max(1, (int)_options.BusyTimeout.TotalSeconds),
        };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            var busy = ((long)_options.BusyTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
            Execute(connection, $"PRAGMA busy_timeout = {busy}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;");
            if (readOnly)
            {
                Execute(connection, "PRAGMA query_only = ON;");
            }
            else
            {
                // The writer: statement journals in memory, not in a temp file (a guarded INSERT with foreign keys on
                // writes one per statement: pwrite calls were most of an archive append's CPU), and a 32 MiB page
                // cache, so the index leaves a batch touches stay in memory. Measured in docs/benchmarks.md
                // ("Message archiving on the hot path"): with 1024-row batches, 3x the rows per second.
                Execute(connection, "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32768;");
                using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA journal_mode = WAL;";
                var mode = command.ExecuteScalar() as string;
                if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                    _logger.LogWarning("SQLite database {Path} could not switch to WAL journal mode (it is {Mode})", _options.DatabasePath, mode);
            }
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Applies pending migrations in one IMMEDIATE transaction; returns (version before, version after).</summary>
    private (int From, int To) Migrate(SqliteConnection connection)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        Execute(connection, """
            CREATE TABLE IF NOT EXISTS schema_version (
                version     INTEGER PRIMARY KEY,
                description TEXT    NOT NULL,
                applied_at  INTEGER NOT NULL
            );
            """, transaction);
        int current;
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_version;";
            current = Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }

        var latest = SqliteMigrations.LatestVersion;
        if (current > latest)
            throw new StorageException($"The SQLite database {_options.DatabasePath} has schema version {current}, newer than this Tendril supports ({latest}).");

        foreach (var migration in SqliteMigrations.All)
        {
            if (migration.Version <= current) continue;
            Execute(connection, migration.Sql, transaction);
            using var record = connection.CreateCommand();
            record.Transaction = transaction;
            record.CommandText = "INSERT INTO schema_version (version, description, applied_at) VALUES ($v, $d, $t);";
            record.Parameters.AddWithValue("$v", migration.Version);
            record.Parameters.AddWithValue("$d", migration.Description);
            record.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            record.ExecuteNonQuery();
            _logger.LogInformation("Applied SQLite migration {Version} ({Description})", migration.Version, migration.Description);
        }
        transaction.Commit();
        return (current, Math.Max(current, latest));
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
