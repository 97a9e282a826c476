using System.Diagnostics;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>
/// Debian's go-sendxmpp (issue 21's first client that could not log in: a newline after &lt;/auth&gt; reached the restarted
/// stream) against the real process: it logs in over STARTTLS and over direct TLS (XEP-0368) and sends a message that a
/// bound client receives, and in listen mode it receives a message (stored offline, delivered at its login).
/// </summary>
public sealed class GoSendxmppTests
{
    private const string Binary = "/usr/bin/go-sendxmpp";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static void RequireClient() =>
        Assert.True(File.Exists(Binary), "Debian's go-sendxmpp is required (./test.sh installs it).");

    [Theory]
    [InlineData("starttls")]
    [InlineData("direct-tls")]
    public async Task Go_sendxmpp_logs_in_and_sends_a_message(string transport)
    {
        RequireClient();
        await using var server = await TendrilProcess.StartAsync([("juliet@localhost", "pw-juliet"), ("romeo@localhost", "pw-romeo")]);
        await using var romeo = await server.ConnectAsync("romeo@localhost", "pw-romeo");
        await romeo.SendPresenceAsync();
        var text = $"hello from go-sendxmpp over {transport}";
        var received = romeo.WaitForAsync(e => e.Name == "message" && e.Element("body")?.Text == text, Timeout);

        var port = transport == "direct-tls" ? server.DirectTlsPort : server.C2sPort;
        var args = new List<string> { "-u", "juliet@localhost", "-p", "pw-juliet", "-j", $"127.0.0.1:{port}", "-n", "--timeout", "20" };
        if (transport == "direct-tls") args.Add("-t");
        args.Add("romeo@localhost");
        var (code, stdout, stderr) = await RunAsync(text + "\n", args);
        Assert.True(code == 0, $"go-sendxmpp over {transport} failed ({code}):\n{stdout}\n{stderr}\n--- server log ---\n{server.Log}");

        var message = await received;
        Assert.StartsWith("juliet@localhost/", message.GetAttribute("from"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Go_sendxmpp_listens_and_receives_a_message_stored_while_it_was_offline()
    {
        RequireClient();
        await using var server = await TendrilProcess.StartAsync([("juliet@localhost", "pw-juliet"), ("romeo@localhost", "pw-romeo")]);
        await using (var juliet = await server.ConnectAsync("juliet@localhost", "pw-juliet"))
        {
            await juliet.SendMessageAsync(Tendril.Protocol.Jid.Parse("romeo@localhost"), "wherefore art thou");
            // The server has it (stored offline) once a later request is answered: stanzas of one stream run in order.
            var ping = new Tendril.Xml.XmlElement("iq").SetAttribute("type", "get").SetAttribute("to", "localhost");
            ping.AddElement("ping", "urn:xmpp:ping");
            await juliet.SendIqAsync(ping, Timeout);
        }

        var psi = Start(["-u", "romeo@localhost", "-p", "pw-romeo", "-j", $"127.0.0.1:{server.C2sPort}", "-n", "-l"]);
        using var process = Process.Start(psi)!;
        try
        {
            var lines = System.Threading.Channels.Channel.CreateUnbounded<string>();
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Writer.TryWrite(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Writer.TryWrite("stderr: " + e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            using var cts = new CancellationTokenSource(Timeout);
            var seen = new List<string>();
            try
            {
                while (true)
                {
                    var line = await lines.Reader.ReadAsync(cts.Token);
                    seen.Add(line);
                    if (line.Contains("wherefore art thou", StringComparison.Ordinal)) break;
                }
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"go-sendxmpp -l printed no message:\n{string.Join('\n', seen)}\n--- server log ---\n{server.Log}");
            }
            Assert.Contains(seen, l => l.Contains("juliet@localhost", StringComparison.Ordinal));
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    private static ProcessStartInfo Start(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(Binary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // No ~/.config/go-sendxmpp/sendxmpprc of the machine's user: everything comes from the arguments.
        psi.Environment["HOME"] = Path.GetTempPath();
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    private static Task<(int Code, string Stdout, string Stderr)> RunAsync(string stdin, IEnumerable<string> args) =>
        TendrilProcess.RunAsync(Start(args), stdin, Timeout);
}
