using Tendril.Server.Tests.Infrastructure;
using Tendril.Storage;

namespace Tendril.Server.Tests.Presence;

/// <summary>
/// A message the router found no available resource for, stored only after the recipient's login had already read
/// its offline messages: it must still reach that resource now, not at the next login.
/// </summary>
public sealed class OfflineRaceTests
{
    /// <summary>Holds each store until released; tells when romeo's login delivery has read the store.</summary>
    private sealed class GatedOffline(IOfflineStore inner) : IOfflineStore
    {
        public TaskCompletionSource StoreEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource RomeoListed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask<OfflineStoreResult> StoreAsync(string domain, string username, string stanza, DateTimeOffset storedAt, int maxPerUser, CancellationToken cancellationToken = default)
        {
            StoreEntered.TrySetResult();
            await Release.Task;
            return await inner.StoreAsync(domain, username, stanza, storedAt, maxPerUser, cancellationToken);
        }

        public async ValueTask<IReadOnlyList<OfflineMessage>> ListAsync(string domain, string username, int max, CancellationToken cancellationToken = default)
        {
            var list = await inner.ListAsync(domain, username, max, cancellationToken);
            if (username == "romeo") RomeoListed.TrySetResult();
            return list;
        }

        public ValueTask<int> CountAsync(string domain, string username, CancellationToken cancellationToken = default) => inner.CountAsync(domain, username, cancellationToken);
        public ValueTask<int> DeleteAsync(string domain, string username, IReadOnlyCollection<long> ids, CancellationToken cancellationToken = default) => inner.DeleteAsync(domain, username, ids, cancellationToken);
    }

    private sealed class GatedStorage(IStorage inner) : PassThroughStorage(inner)
    {
        public GatedOffline Gated { get; } = new(inner.Offline);
        public override IOfflineStore Offline => Gated;
    }

    [Fact]
    public async Task A_message_stored_after_the_recipients_login_read_the_store_is_delivered_at_once()
    {
        GatedStorage? gated = null;
        await using var server = await TestServer.StartAsync(wrapStorage: s => gated = new GatedStorage(s));
        await server.AddUserAsync("juliet", "pw");
        await server.AddUserAsync("romeo", "pw");
        var offline = gated!.Gated;
        await using var juliet = server.Connect();
        await juliet.LoginAsync("juliet", "pw", "r");

        // The router sees romeo offline and starts storing; romeo comes online and his login reads the (empty) store.
        await juliet.SendAsync("<message to='romeo@localhost' type='chat' id='m'><body>in between</body></message>");
        await offline.StoreEntered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await using var romeo = server.Connect();
        await romeo.LoginAsync("romeo", "pw", "garden");
        await offline.RomeoListed.Task.WaitAsync(TimeSpan.FromSeconds(10));

        offline.Release.TrySetResult();
        var message = await romeo.WaitForAsync(e => e.Name == "message");
        Assert.Equal("m", message.GetAttribute("id"));
        Assert.Equal("in between", message.Element("body")!.Text);
        Assert.NotNull(message.Element("delay", Tendril.Protocol.Ns.Delay));
        // Delivered, so no longer stored (and the next login gets nothing twice).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (await server.Storage.Offline.CountAsync("localhost", "romeo") != 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, await server.Storage.Offline.CountAsync("localhost", "romeo"));
    }
}
