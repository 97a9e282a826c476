using Tendril.Protocol;
using Tendril.Protocol.Sasl;
using Tendril.Server.Features;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Tests.Routing;

/// <summary>Nothing waits forever: server-originated iqs time out, features that forget to answer still answer, slow storage stalls only its own stream.</summary>
public sealed class ServerRequestTests
{
    [Fact]
    public async Task Server_iq_to_a_silent_client_times_out_with_an_error()
    {
        await using var server = await TestServer.StartAsync();
        await server.AddUserAsync("juliet", "pw");
        await using var c = server.Connect();
        var jid = await c.LoginAsync("juliet", "pw", "r");
        var pending = server.Server.IqTracker.SendAsync(new XmlElement("iq", Ns.Client).SetAttribute("type", "get").Add(new XmlElement("query", Ns.Version)), Jid.Parse(jid), TimeSpan.FromSeconds(30));
        var request = await c.WaitForAsync(e => e.Name == "iq");
        Assert.Equal("get", request.GetAttribute("type"));
        Assert.False(pending.IsCompleted);
        server.AdvanceAndTick(TimeSpan.FromSeconds(31));
        var response = await pending.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("error", response.GetAttribute("type"));
        Assert.NotNull(response.Element("error")!.Element("remote-server-timeout", Ns.Stanzas));
        Assert.Equal(0, server.Server.IqTracker.PendingCount);
    }

    [Fact]
    public async Task Server_iq_answered_by_the_client_completes()
    {
        await using var server = await TestServer.StartAsync();
        await server.AddUserAsync("juliet", "pw");
        await using var c = server.Connect();
        var jid = await c.LoginAsync("juliet", "pw", "r");
        var pending = server.Server.IqTracker.SendAsync(new XmlElement("iq", Ns.Client).SetAttribute("type", "get").Add(new XmlElement("query", Ns.Version)), Jid.Parse(jid), TimeSpan.FromSeconds(30));
        var request = await c.WaitForAsync(e => e.Name == "iq");
        await c.SendAsync($"<iq type='result' id='{request.GetAttribute("id")}' to='localhost'><query xmlns='jabber:iq:version'><name>x</name></query></iq>");
        var response = await pending.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("result", response.GetAttribute("type"));
    }

    private sealed class ForgetfulFeature : IServerFeature
    {
        public void Register(FeatureRegistry registry)
        {
            registry.HandleIq("forget", "urn:test:forget", _ => ValueTask.CompletedTask);
            registry.HandleIq("crash", "urn:test:crash", _ => throw new InvalidOperationException("boom"));
        }
    }

    [Theory]
    [InlineData("forget", "urn:test:forget")]
    [InlineData("crash", "urn:test:crash")]
    public async Task Feature_that_does_not_answer_or_throws_still_answers_with_internal_server_error(string name, string ns)
    {
        await using var server = await TestServer.StartAsync(extraFeatures: [new ForgetfulFeature()]);
        await server.AddUserAsync("juliet", "pw");
        await using var c = server.Connect();
        await c.LoginAsync("juliet", "pw", "r");
        await c.SendAsync($"<iq type='get' id='f1' to='localhost'><{name} xmlns='{ns}'/></iq>");
        var reply = await c.WaitForAsync(e => e.Name == "iq");
        Assert.Equal("error", reply.GetAttribute("type"));
        Assert.NotNull(reply.Element("error")!.Element("internal-server-error", Ns.Stanzas));
        // The stream survives.
        await c.SendAsync("<iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
        Assert.Equal("result", (await c.WaitForAsync(e => e.Name == "iq")).GetAttribute("type"));
    }

    /// <summary>A real SQLite store whose account lookups for one user take as long as the test says.</summary>
    private sealed class SlowAccounts(IAccountStore inner, TaskCompletionSource gate) : IAccountStore
    {
        public async ValueTask<Account?> FindAsync(string domain, string username, CancellationToken cancellationToken = default)
        {
            if (username == "slow") await gate.Task;
            return await inner.FindAsync(domain, username, cancellationToken);
        }

        public ValueTask<bool> CreateAsync(Account account, CancellationToken cancellationToken = default) => inner.CreateAsync(account, cancellationToken);
        public ValueTask<bool> UpdateCredentialsAsync(string domain, string username, ScramCredential sha1, ScramCredential sha256, CancellationToken cancellationToken = default) => inner.UpdateCredentialsAsync(domain, username, sha1, sha256, cancellationToken);
        public ValueTask<bool> DeleteAsync(string domain, string username, CancellationToken cancellationToken = default) => inner.DeleteAsync(domain, username, cancellationToken);
        public ValueTask<IReadOnlyList<string>> ListAsync(string domain, CancellationToken cancellationToken = default) => inner.ListAsync(domain, cancellationToken);
    }

    private sealed class SlowStorage(IStorage inner, TaskCompletionSource gate) : PassThroughStorage(inner)
    {
        private readonly SlowAccounts _accounts = new(inner.Accounts, gate);
        public override IAccountStore Accounts => _accounts;
    }

    [Fact]
    public async Task Slow_storage_for_one_login_does_not_block_other_connections()
    {
        await using var plain = await TestServer.StartAsync();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new Configuration.TendrilOptions { Domain = "localhost", DataDirectory = plain.Directory };
        await using var server = new XmppServer(options, new SlowStorage(plain.Storage, gate), TestServer.Certificate,
            [new Features.Ping.PingFeature()], null, new ManualTimeProvider());
        await server.StartAsync(listen: false);
        await plain.AddUserAsync("slow", "pw");
        await plain.AddUserAsync("fast", "pw");

        var (slowEnd, slowServer) = Tendril.Server.Transport.InMemoryStream.CreatePair();
        _ = server.AcceptAsync(new Tendril.Server.Transport.StreamTransport(slowServer, "slow", "srv"), false);
        await using var slow = new TestClient(slowEnd);
        var slowLogin = slow.LoginAsync("slow", "pw", "r", presence: false);

        var (fastEnd, fastServer) = Tendril.Server.Transport.InMemoryStream.CreatePair();
        _ = server.AcceptAsync(new Tendril.Server.Transport.StreamTransport(fastServer, "fast", "srv"), false);
        await using var fast = new TestClient(fastEnd);
        Assert.Equal("fast@localhost/r", await fast.LoginAsync("fast", "pw", "r", presence: false));
        Assert.False(slowLogin.IsCompleted); // still waiting on its storage call

        gate.SetResult();
        Assert.Equal("slow@localhost/r", await slowLogin.WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
