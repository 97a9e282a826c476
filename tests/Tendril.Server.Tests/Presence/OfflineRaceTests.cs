using Tendril.Server.Features.Offline;
using Tendril.Server.Features.Roster;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Server.Transport;
using Tendril.Storage;

namespace Tendril.Server.Tests.Presence;

/// <summary>
/// A message the router found no available resource for, stored only after the recipient's login had already read
/// its offline messages: it must still reach that resource now, not at the next login.
/// </summary>
public sealed class OfflineRaceTests
{
    /// <summary>Holds each store until released; tells when a login's delivery has read the store.</summary>
    private sealed class GatedOffline(IOfflineStore inner) : IOfflineStore
    {
        public TaskCompletionSource StoreEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Listed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask<OfflineStoreResult> StoreAsync(string domain, string username, string stanza, DateTimeOffset storedAt, int maxPerUser, CancellationToken cancellationToken = default)
        {
            StoreEntered.TrySetResult();
            await Release.Task;
            return await inner.StoreAsync(domain, username, stanza, storedAt, maxPerUser, cancellationToken);
        }

        public async ValueTask<IReadOnlyList<OfflineMessage>> ListAsync(string domain, string username, int max, CancellationToken cancellationToken = default)
        {
            var list = await inner.ListAsync(domain, username, max, cancellationToken);
            Listed.TrySetResult();
            return list;
        }

        public ValueTask<int> CountAsync(string domain, string username, CancellationToken cancellationToken = default) => inner.CountAsync(domain, username, cancellationToken);
        public ValueTask<int> DeleteAsync(string domain, string username, IReadOnlyCollection<long> ids, CancellationToken cancellationToken = default) => inner.DeleteAsync(domain, username, ids, cancellationToken);
    }

    private sealed class GatedStorage(IStorage inner) : IStorage
    {
        public IAccountStore Accounts => inner.Accounts;
        public IRosterStore Rosters => inner.Rosters;
        public GatedOffline Gated { get; } = new(inner.Offline);
        public IOfflineStore Offline => Gated;
        public IPubSubStore PubSub => inner.PubSub;
        public IAccountDataStore AccountData => inner.AccountData;
        public IArchiveStore Archive => inner.Archive;
        public ValueTask InitializeAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task A_message_stored_after_the_recipients_login_read_the_store_is_delivered_at_once()
    {
        await using var plain = await TestServer.StartAsync();
        await plain.AddUserAsync("juliet", "pw");
        await plain.AddUserAsync("romeo", "pw");
        var storage = new GatedStorage(plain.Storage);
        var options = new Configuration.TendrilOptions { Domain = "localhost", DataDirectory = plain.Directory };
        await using var server = new XmppServer(options, storage, TestServer.Certificate,
            [new RosterFeature(), new OfflineFeature()], null, new ManualTimeProvider());
        await server.StartAsync(listen: false);
        await using var juliet = await ConnectAsync(server);
        await juliet.LoginAsync("juliet", "pw", "r");

        // The router sees romeo offline and starts storing; romeo comes online and his login reads the (empty) store.
        await juliet.SendAsync("<message to='romeo@localhost' type='chat' id='m'><body>in between</body></message>");
        await storage.Gated.StoreEntered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await using var romeo = await ConnectAsync(server);
        await romeo.LoginAsync("romeo", "pw", "garden");
        await storage.Gated.Listed.Task.WaitAsync(TimeSpan.FromSeconds(10));

        storage.Gated.Release.TrySetResult();
        var message = await romeo.WaitForAsync(e => e.Name == "message");
        Assert.Equal("m", message.GetAttribute("id"));
        Assert.Equal("in between", message.Element("body")!.Text);
        Assert.NotNull(message.Element("delay", Tendril.Protocol.Ns.Delay));
        // Delivered, so no longer stored (and the next login gets nothing twice).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (await plain.Storage.Offline.CountAsync("localhost", "romeo") != 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, await plain.Storage.Offline.CountAsync("localhost", "romeo"));
    }

    private static async Task<TestClient> ConnectAsync(XmppServer server)
    {
        var (clientEnd, serverEnd) = InMemoryStream.CreatePair();
        _ = server.AcceptAsync(new StreamTransport(serverEnd, "c", "s"), false);
        return new TestClient(clientEnd);
    }
}
