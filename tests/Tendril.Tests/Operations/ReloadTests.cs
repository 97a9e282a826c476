using System.Security.Cryptography.X509Certificates;
using Tendril.Client;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Tls;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Operations;

/// <summary>Configuration reload on SIGHUP with 50 established sessions: nobody is dropped, bad configurations are refused.</summary>
public sealed class ReloadTests
{
    private const int Accounts = 5, ResourcesPerAccount = 10;

    [Fact]
    public async Task Sighup_applies_limits_log_levels_and_certificate_without_dropping_any_of_50_sessions()
    {
        await using var server = await TendrilProcess.StartAsync(Users);
        var clients = await ConnectAllAsync(server);
        try
        {
            Assert.Equal(50, clients.Count(c => c.IsConnected));
            await ChatRoundAsync(clients, "before");

            // New limits, quieter stream logging, a new certificate on disk.
            server.Section["Limits"] = new Dictionary<string, object> { ["MaxStanzaBytes"] = 20_000, ["OutboundQueueStanzas"] = 1000, ["IdleSeconds"] = 600 };
            server.ExtraSections["Logging"] = new Dictionary<string, object> { ["LogLevel"] = new Dictionary<string, object> { ["Tendril.C2s"] = "Warning" } };
            await server.WriteConfigAsync();
            var (certificatePath, keyPath) = CertificateProvider.DefaultPaths(Path.Combine(server.Directory, "data"), "localhost");
            using var newCertificate = CertificateProvider.CreateSelfSigned("localhost");
            CertificateProvider.WritePem(newCertificate, certificatePath, keyPath);

            await server.SignalAsync("HUP");
            await server.WaitForLogAsync("Configuration reloaded (SIGHUP)");
            Assert.Contains("changed: Limits, certificate", server.Log, StringComparison.Ordinal);
            Assert.False(server.HasExited);

            // Everyone is still there and still chatting.
            Assert.Equal(50, clients.Count(c => c.IsConnected));
            await ChatRoundAsync(clients, "after");

            // New streams: the new certificate and the new stanza limit; stream logging now at Warning.
            var openedBefore = CountOccurrences(server.Log, " opened from ");
            string? seenThumbprint = null;
            await using (var probe = new XmppClient(new XmppClientOptions
            {
                Jid = Jid.Parse("user0@localhost"), Password = "pw-0", Host = "127.0.0.1", Port = server.C2sPort, Resource = "probe",
                CertificateValidation = (_, certificate, _, _) =>
                {
                    seenThumbprint = certificate is null ? null : new X509Certificate2(certificate).Thumbprint;
                    return true;
                },
            }))
            {
                await probe.ConnectAsync();
                Assert.Equal(newCertificate.Thumbprint, seenThumbprint);
                await probe.SendMessageAsync(clients[1].Jid, new string('x', 30_000));
                var error = await Assert.ThrowsAsync<XmppStreamException>(() => probe.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
                Assert.Equal(StreamErrorCondition.PolicyViolation, error.Condition);
            }
            Assert.Equal(openedBefore, CountOccurrences(server.Log, " opened from "));

            // A configuration that does not validate is refused; so is a new domain. The old one stays in force.
            server.Section["Limits"] = new Dictionary<string, object> { ["MaxStanzaBytes"] = 5 };
            await server.WriteConfigAsync();
            await server.SignalAsync("HUP");
            await server.WaitForLogAsync("Configuration reload (SIGHUP) refused: Invalid configuration: Tendril:Limits:MaxStanzaBytes must be at least 10000");
            server.Section["Limits"] = new Dictionary<string, object> { ["MaxStanzaBytes"] = 20_000 };
            server.Section["Domain"] = "other.example";
            await server.WriteConfigAsync();
            await server.SignalAsync("HUP");
            await server.WaitForLogAsync("Tendril:Domain cannot change while running");
            await File.WriteAllTextAsync(server.ConfigPath, "{ not json");
            await server.SignalAsync("HUP");
            await server.WaitForLogAsync("refused: cannot read the configuration");

            await using (var probe = await server.ConnectAsync("user0@localhost", "pw-0", "probe2"))
            {
                await probe.SendMessageAsync(clients[1].Jid, new string('y', 15_000)); // under the 20000 in force, over nothing smaller
                var big = await clients[1].WaitForAsync(e => e.Name == "message" && e.Element("body")?.Text.StartsWith('y') == true, TimeSpan.FromSeconds(10));
                Assert.Equal(15_000, big.Element("body")!.Text.Length);
                await probe.SendMessageAsync(clients[1].Jid, new string('z', 30_000));
                var error = await Assert.ThrowsAsync<XmppStreamException>(() => probe.Completion.WaitAsync(TimeSpan.FromSeconds(10)));
                Assert.Equal(StreamErrorCondition.PolicyViolation, error.Condition);
            }
            Assert.Equal(50, clients.Count(c => c.IsConnected));
            await ChatRoundAsync(clients, "end");
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }

    /// <summary>
    /// Counted (docs/reliability.md): 50 clients each write to the next one every 50 ms while the configuration is
    /// reloaded three times (limits and log levels changed each time); every message is delivered, nobody drops.
    /// </summary>
    [Fact]
    public async Task Sighup_while_50_clients_send_loses_no_message_and_drops_no_session()
    {
        await using var server = await TendrilProcess.StartAsync(Users);
        var clients = await ConnectAllAsync(server);
        var tally = new Tendril.Tests.Support.MessageTally("hup");
        foreach (var c in clients)
        {
            tally.WatchSender(c);
            tally.WatchRecipient(c);
        }
        using var stop = new CancellationTokenSource();
        var senders = clients.Select((c, n) => Task.Run(async () =>
        {
            var to = clients[(n + 1) % clients.Length].Jid;
            while (!stop.IsCancellationRequested)
            {
                await tally.SendNextAsync(c, to);
                await Task.Delay(50);
            }
        })).ToArray();
        try
        {
            Assert.True(await tally.WaitAsync(t => t.Live >= 500, TimeSpan.FromSeconds(60)), tally.ToString());
            for (var round = 1; round <= 3; round++)
            {
                server.Section["Limits"] = new Dictionary<string, object> { ["OutboundQueueStanzas"] = 1000 + round, ["IdleSeconds"] = 600 + round };
                server.ExtraSections["Logging"] = new Dictionary<string, object> { ["LogLevel"] = new Dictionary<string, object> { ["Tendril.C2s"] = round % 2 == 0 ? "Information" : "Warning" } };
                await server.WriteConfigAsync();
                await server.SignalAsync("HUP");
                await server.WaitForLogAsync("Configuration reloaded (SIGHUP)", occurrences: round);
                var live = tally.Live;
                Assert.True(await tally.WaitAsync(t => t.Live >= live + 200, TimeSpan.FromSeconds(60)), tally.ToString());
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(senders);
        }
        try
        {
            var accounted = await tally.WaitAsync(t => t.AllAccounted, TimeSpan.FromSeconds(30));
            Assert.True(accounted, tally.ToString());
            Assert.Equal(0, tally.Bounced);
            Assert.Equal(0, tally.Duplicates);
            Assert.Equal(50, clients.Count(c => c.IsConnected));
            Console.WriteLine("SIGHUP x3 with 50 clients sending: " + tally);
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }

    private static readonly (string, string)[] Users = Enumerable.Range(0, Accounts).Select(i => ($"user{i}@localhost", $"pw-{i}")).ToArray();

    /// <summary>The 50 sessions: resource r{n} of user{n % 5}.</summary>
    private static Task<XmppClient[]> ConnectAllAsync(TendrilProcess server) =>
        Task.WhenAll(Enumerable.Range(0, Accounts * ResourcesPerAccount)
            .Select(n => server.ConnectAsync($"user{n % Accounts}@localhost", $"pw-{n % Accounts}", $"r{n}")));

    /// <summary>Client n sends to client n+1 (full JID); each receives exactly that message.</summary>
    private static async Task ChatRoundAsync(XmppClient[] clients, string tag)
    {
        var waits = clients.Select((c, n) => c.WaitForAsync(e => e.Name == "message" && e.Element("body")?.Text == $"{tag} to {n}", TimeSpan.FromSeconds(20))).ToArray();
        for (var n = 0; n < clients.Length; n++)
        {
            var to = (n + 1) % clients.Length;
            await clients[n].SendMessageAsync(clients[to].Jid, $"{tag} to {to}");
        }
        var received = await Task.WhenAll(waits);
        for (var n = 0; n < clients.Length; n++)
        {
            Assert.Equal(clients[(n + clients.Length - 1) % clients.Length].Jid.ToString(), received[n].GetAttribute("from"));
        }
    }

    private static int CountOccurrences(string text, string value)
    {
        var count = 0;
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal)) count++;
        return count;
    }
}
