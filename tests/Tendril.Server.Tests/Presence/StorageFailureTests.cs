using Tendril.Protocol;
using Tendril.Server.Features;
using Tendril.Server.Features.Offline;
using Tendril.Server.Features.Roster;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Server.Transport;
using Tendril.Storage;

namespace Tendril.Server.Tests.Presence;

/// <summary>A failing store never loses a message silently and never takes the sender's stream down.</summary>
public sealed class StorageFailureTests
{
    private sealed class BrokenOffline : IOfflineStore
    {
        public ValueTask<OfflineStoreResult> StoreAsync(string domain, string username, string stanza, DateTimeOffset storedAt, int maxPerUser, CancellationToken cancellationToken = default) => throw new StorageException("disk full");
        public ValueTask<int> CountAsync(string domain, string username, CancellationToken cancellationToken = default) => ValueTask.FromResult(0);
        public ValueTask<IReadOnlyList<OfflineMessage>> ListAsync(string domain, string username, int max, CancellationToken cancellationToken = default) => ValueTask.FromResult<IReadOnlyList<OfflineMessage>>([]);
        public ValueTask<int> DeleteAsync(string domain, string username, IReadOnlyCollection<long> ids, CancellationToken cancellationToken = default) => ValueTask.FromResult(0);
    }

    private sealed class BrokenStorage(IStorage inner) : PassThroughStorage(inner)
    {
        private readonly BrokenOffline _offline = new();
        public override IRosterStore Rosters => throw new StorageException("database locked");
        public override IOfflineStore Offline => _offline;
    }

    [Fact]
    public async Task Offline_and_subscription_failures_are_reported_to_the_sender()
    {
        await using var plain = await TestServer.StartAsync();
        await plain.AddUserAsync("juliet", "pw");
        await plain.AddUserAsync("romeo", "pw");
        var options = new Configuration.TendrilOptions { Domain = "localhost", DataDirectory = plain.Directory };
        await using var server = new XmppServer(options, new BrokenStorage(plain.Storage), TestServer.Certificate,
            [new Features.Ping.PingFeature(), new RosterFeature(), new OfflineFeature()], null, new ManualTimeProvider());
        await server.StartAsync(listen: false);
        var (clientEnd, serverEnd) = InMemoryStream.CreatePair();
        _ = server.AcceptAsync(new StreamTransport(serverEnd, "c", "s"), false);
        await using var juliet = new TestClient(clientEnd);
        await juliet.LoginAsync("juliet", "pw", "r", presence: false);

        await juliet.SendAsync("<message to='romeo@localhost' type='chat' id='m'><body>keep me</body></message>");
        var bounced = await juliet.WaitForAsync(e => e.Name == "message");
        Assert.Equal("m", bounced.GetAttribute("id"));
        Assert.Equal("wait", bounced.Element("error")!.GetAttribute("type"));
        Assert.NotNull(bounced.Element("error")!.Element("internal-server-error", Ns.Stanzas));

        await juliet.SendAsync("<presence to='romeo@localhost' type='subscribe' id='s'/>");
        var refused = await juliet.WaitForAsync(e => e.Name == "presence");
        Assert.Equal("error", refused.GetAttribute("type"));
        Assert.Equal("wait", refused.Element("error")!.GetAttribute("type"));

        // The stream is still up.
        await juliet.SendAsync("<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        Assert.Equal("result", (await juliet.WaitForAsync(e => e.Name == "iq" && e.GetAttribute("id") == "p")).GetAttribute("type"));
    }
}
