using System.Diagnostics;
using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Web;

/// <summary>
/// The web client converse.js, served by Tendril on /demo/ (src/Tendril/demo, copied into the output at build time),
/// in real headless Chromium (Debian's chromium driven by playwright-core): juliet logs in over WebSocket, then over
/// BOSH, and chats with romeo on a python3-slixmpp client; with each session online the admin page lists it.
/// Screenshots are kept under artifacts/browser/.
/// </summary>
public sealed class ConverseBrowserTests
{
    private static string RepositoryRoot => Tendril.Tests.Support.RepositoryPaths.Root;

    [Fact]
    public async Task Converse_logs_in_over_websocket_and_bosh_and_chats_with_slixmpp()
    {
        var browserDir = Path.Combine(RepositoryRoot, "tests", "Tendril.Tests", "Browser");
        Assert.True(File.Exists("/usr/bin/chromium"), "Debian's chromium is required (./test.sh installs it).");
        Assert.True(Directory.Exists(Path.Combine(browserDir, "node_modules", "playwright-core")), "playwright-core is required (./test.sh runs npm ci in tests/Tendril.Tests/Browser).");
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "demo", "converse", "converse.min.js")),
            "converse.js is required in the build output (./test.sh runs npm ci in src/Tendril/demo before building).");

        await using var server = await TendrilProcess.StartAsync(
            [("admin@localhost", "admin-pw"), ("juliet@localhost", "pw-juliet"), ("romeo@localhost", "pw-romeo")], section =>
            {
                ((Dictionary<string, object>)section["Http"])["TrustLoopback"] = true;
                section["Demo"] = new Dictionary<string, object> { ["Enabled"] = true };
                section["Admin"] = new Dictionary<string, object> { ["Users"] = new[] { "admin@localhost" } };
            });

        // The demo page itself.
        using (var http = new HttpClient { BaseAddress = server.HttpBase })
        {
            var page = await http.GetStringAsync("/demo/");
            Assert.Contains("demo.js", page, StringComparison.Ordinal);
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("/demo/..%2Ftendril.dll")).StatusCode);
        }

        var artifacts = Path.Combine(RepositoryRoot, "artifacts", "browser");
        Directory.CreateDirectory(artifacts);
        foreach (var old in Directory.GetFiles(artifacts, "*converse-*.png")) File.Delete(old);

        // romeo: python3-slixmpp over TCP, answering each message with "pong: …".
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(browserDir, "slixmpp_echo.py"), "127.0.0.1", server.C2sPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "romeo@localhost", "pw-romeo", "2" })
        {
            psi.ArgumentList.Add(a);
        }
        using var romeo = Process.Start(psi)!;
        var romeoErr = romeo.StandardError.ReadToEndAsync();
        var lines = System.Threading.Channels.Channel.CreateUnbounded<string>();
        romeo.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Writer.TryWrite(e.Data); };
        romeo.BeginOutputReadLine();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(240));
        try
        {
            var ready = await lines.Reader.ReadAsync(cts.Token);
            Assert.True(ready.StartsWith("READY romeo@localhost/", StringComparison.Ordinal), ready + "\n" + server.Log);

            foreach (var transport in new[] { "websocket", "bosh" })
            {
                var text = $"hello romeo over {transport}";
                var (code, stdout, stderr) = await TendrilProcess.RunAsync("node", TimeSpan.FromSeconds(120),
                    Path.Combine(browserDir, "converse_demo.mjs"), server.HttpBase.ToString(), transport, "juliet@localhost", "pw-juliet",
                    "romeo@localhost", text, "admin@localhost", "admin-pw", artifacts);
                Assert.True(code == 0, $"converse over {transport} failed ({code}):\n{stdout}\n{stderr}\n--- server log ---\n{server.Log}");
                using var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
                var jid = result.RootElement.GetProperty("jid").GetString()!;
                Assert.StartsWith("juliet@localhost/", jid, StringComparison.Ordinal);
                Assert.Equal("pong: " + text, result.RootElement.GetProperty("reply").GetString());
                var session = result.RootElement.GetProperty("sessions").EnumerateArray().Single(s => s.GetProperty("jid").GetString() == jid);
                Assert.Contains(transport, session.GetProperty("transport").GetString(), StringComparison.Ordinal);
                // Nothing the demo loads comes from elsewhere, and nothing it asks for is missing (issue 21: sponsor
                // logos from conversejs.org, /demo/curve25519_compiled.wasm 404).
                Assert.Empty(result.RootElement.GetProperty("external").EnumerateArray().Select(e => e.GetString()));
                Assert.Empty(result.RootElement.GetProperty("failed").EnumerateArray().Select(e => e.GetString()));

                // What romeo's slixmpp received.
                using var got = JsonDocument.Parse(await lines.Reader.ReadAsync(cts.Token));
                Assert.Equal(jid, got.RootElement.GetProperty("from").GetString());
                Assert.Equal(text, got.RootElement.GetProperty("body").GetString());
                Assert.True(new FileInfo(Path.Combine(artifacts, $"converse-{transport}.png")).Length > 1000);
                Assert.True(new FileInfo(Path.Combine(artifacts, $"admin-with-converse-{transport}.png")).Length > 1000);
            }
            await romeo.WaitForExitAsync(cts.Token);
            Assert.True(romeo.ExitCode == 0, await romeoErr);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"timed out:\n{await romeoErr}\n--- server log ---\n{server.Log}");
        }
        finally
        {
            if (!romeo.HasExited) romeo.Kill(entireProcessTree: true);
        }
    }
}
