using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Tendril.Protocol.Sasl;
using Tendril.Server.Configuration;
using Tendril.Server.Features;
using Tendril.Server.Hosting;
using Tendril.Server.Tls;
using Tendril.Server.Transport;
using Tendril.Storage;
using Tendril.Storage.Sqlite;

namespace Tendril.Server.Tests.Infrastructure;

/// <summary>
/// A real server (real certificate; real storage: a SQLite file in the data folder, or the <see cref="IStorage"/> given,
/// e.g. PostgreSQL) whose connections run over in-memory streams or sockets.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    private static readonly Lazy<X509Certificate2> s_certificate = new(() => CertificateProvider.CreateSelfSigned("localhost"));
    private readonly List<Task> _connections = [];

    private readonly ServiceProvider _services;

    private TestServer(XmppServer server, IStorage storage, string directory, ManualTimeProvider? time, ServiceProvider services)
    {
        _services = services;
        Server = server;
        Storage = storage;
        Directory = directory;
        Time = time;
    }

    public XmppServer Server { get; }

    public IStorage Storage { get; }

    public string Directory { get; }

    public ManualTimeProvider? Time { get; }

    public static X509Certificate2 Certificate => s_certificate.Value;

    /// <summary>Keep the data folder on dispose (to start another server on it: a restart).</summary>
    public bool KeepDirectory { get; set; }

    /// <param name="configure">Options to change (component ports, limits…); reloadable ones can also change later through the server.</param>
    /// <param name="extraFeatures">Test-only features registered after the production ones (a production feature type again would register twice).</param>
    /// <param name="directory">An existing data folder (a restart); a new temporary one when null.</param>
    /// <param name="storage">The storage to serve from (initialized here, disposed with the server); a SQLite file in the data folder when null.</param>
    /// <param name="loggerFactory">Where the server logs (a test's <see cref="CapturingLoggerFactory"/>); nowhere when null.</param>
    /// <param name="wrapStorage">Serves from a wrapper of that storage (a test's failing or gated store, <see cref="PassThroughStorage"/>); <see cref="Storage"/> stays the real one.</param>
    public static async Task<TestServer> StartAsync(Action<TendrilOptions>? configure = null, bool listen = false, bool manualTime = true, IEnumerable<IServerFeature>? extraFeatures = null, string? directory = null,
        IStorage? storage = null, Func<IStorage, IStorage>? wrapStorage = null, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null)
    {
        directory ??= Path.Combine(Path.GetTempPath(), "tendril-test-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var options = new TendrilOptions { Domain = "localhost", DataDirectory = directory };
        options.C2s.Address = "loopback";
        options.C2s.Port = 0;
        options.C2s.DirectTlsPort = 0;
        configure?.Invoke(options);
        storage ??= new SqliteStorage(Path.Combine(directory, "tendril.db"));
        await storage.InitializeAsync();
        var time = manualTime ? new ManualTimeProvider() : null;
        // The features come from the same registration as the real host (AddTendrilFeatures): one list, one order.
        var services = new ServiceCollection();
        services.AddSingleton(options);
        services.AddSingleton<TimeProvider>((TimeProvider?)time ?? TimeProvider.System);
        var served = wrapStorage?.Invoke(storage) ?? storage;
        services.AddSingleton<IStorage>(served);
        services.AddTendrilFeatures();
        foreach (var extra in extraFeatures ?? []) services.AddSingleton(extra);
        var provider = services.BuildServiceProvider();
        var server = new XmppServer(options, served, Certificate, provider.GetServices<IServerFeature>(), loggerFactory, (TimeProvider?)time ?? TimeProvider.System);
        try
        {
            await server.StartAsync(listen);
        }
        catch
        {
            // A listener that cannot bind: nothing of this server may stay behind.
            await server.StopAsync(TimeSpan.FromSeconds(5));
            await provider.DisposeAsync();
            await storage.DisposeAsync();
            try { System.IO.Directory.Delete(directory, recursive: true); } catch (IOException) { }
            throw;
        }
        return new TestServer(server, storage, directory, time, provider);
    }

    public async Task AddUserAsync(string username, string password)
    {
        var account = new Account(username, "localhost",
            ScramCredential.Create(password, ScramHash.Sha1, 4096),
            ScramCredential.Create(password, ScramHash.Sha256, 4096),
            DateTimeOffset.UtcNow);
        Assert.True(await Storage.Accounts.CreateAsync(account));
    }

    /// <summary>Opens an in-memory connection to the server; the server side runs in the background.</summary>
    public TestClient Connect(bool directTls = false)
    {
        var (client, server) = InMemoryStream.CreatePair();
        var transport = new StreamTransport(server, "memory-client", "memory-server");
        lock (_connections) _connections.Add(Task.Run(() => Server.AcceptAsync(transport, directTls)));
        return new TestClient(client, directTls);
    }

    /// <summary>Moves the manual clock and runs one heartbeat round.</summary>
    public void AdvanceAndTick(TimeSpan by)
    {
        Time!.Advance(by);
        Server.Heartbeat.Tick();
    }

    public async ValueTask DisposeAsync()
    {
        await Server.StopAsync(TimeSpan.FromSeconds(5));
        Task[] connections;
        lock (_connections) connections = [.. _connections];
        await Task.WhenAny(Task.WhenAll(connections), Task.Delay(TimeSpan.FromSeconds(10)));
        await _services.DisposeAsync();
        await Storage.DisposeAsync();
        if (KeepDirectory) return;
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
