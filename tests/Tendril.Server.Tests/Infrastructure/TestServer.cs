using System.Security.Cryptography.X509Certificates;
using Tendril.Protocol.Sasl;
using Tendril.Server.Configuration;
using Tendril.Server.Features;
using Tendril.Server.Features.Blocking;
using Tendril.Server.Features.Carbons;
using Tendril.Server.Features.ContactAddresses;
using Tendril.Server.Features.Disco;
using Tendril.Server.Features.ExternalServices;
using Tendril.Server.Features.LastActivity;
using Tendril.Server.Features.Mam;
using Tendril.Server.Features.Offline;
using Tendril.Server.Features.Ping;
using Tendril.Server.Features.PrivateStorage;
using Tendril.Server.Features.Roster;
using Tendril.Server.Features.Session;
using Tendril.Server.Features.Time;
using Tendril.Server.Features.VCard;
using Tendril.Server.Features.Version;
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

    private TestServer(XmppServer server, IStorage storage, string directory, ManualTimeProvider? time)
    {
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

    /// <param name="directory">An existing data folder (a restart); a new temporary one when null.</param>
    /// <param name="storage">The storage to serve from (initialized here, disposed with the server); a SQLite file in the data folder when null.</param>
    public static async Task<TestServer> StartAsync(Action<TendrilOptions>? configure = null, bool listen = false, bool manualTime = true, IEnumerable<IServerFeature>? extraFeatures = null, string? directory = null,
        IStorage? storage = null)
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
        IEnumerable<IServerFeature> features = [new DiscoFeature(), new PingFeature(), new VersionFeature(), new LegacySessionFeature(),
            new Features.StreamManagement.StreamManagementFeature(), new Features.StreamManagement.ClientStateIndicationFeature(), new RosterFeature(), new OfflineFeature(),
            new EntityTimeFeature(), new LastActivityFeature(), new VCardFeature(), new PrivateStorageFeature(), new BlockingFeature(), new MamFeature(), new CarbonsFeature(),
            new ContactAddressesFeature(), new ExternalServicesFeature(), new Features.Registration.RegistrationFeature(), new Features.Pep.PepFeature(), new Features.Conversion.AvatarConversionFeature(), new Features.Conversion.BookmarkSyncFeature(), new Features.Push.PushFeature(), .. extraFeatures ?? []];
        var server = new XmppServer(options, storage, Certificate, features, null, (TimeProvider?)time ?? TimeProvider.System);
        await server.StartAsync(listen);
        return new TestServer(server, storage, directory, time);
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
        await Storage.DisposeAsync();
        if (KeepDirectory) return;
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
