using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>
/// A real third-party client (Debian's python3-slixmpp) against the real server process: two accounts log in,
/// bind, and exchange messages both ways; we assert what each received.
/// </summary>
public sealed class SlixmppInteropTests
{
    private static string Script => Path.Combine(AppContext.BaseDirectory, "Interop", "slixmpp_chat.py");

    [Theory]
    [InlineData("SCRAM-SHA-256", false)]
    [InlineData("SCRAM-SHA-1", false)]
    [InlineData("PLAIN", true)]
    public async Task Two_slixmpp_clients_chat_through_tendril(string mechanism, bool directTls)
    {
        Assert.True(File.Exists("/usr/bin/python3"), "Debian's python3 is required (test.sh installs python3-slixmpp).");
        await using var server = await TendrilProcess.StartAsync([("juliet@localhost", "r0m30myr0m30"), ("romeo@localhost", "juliet4ever")]);
        var port = directTls ? server.DirectTlsPort : server.C2sPort;
        string[] args = [Script, "127.0.0.1", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "juliet@localhost", "r0m30myr0m30", "romeo@localhost", "juliet4ever", mechanism];
        if (directTls) args = [.. args, "--direct-tls"];
        var (code, stdout, stderr) = await TendrilProcess.RunAsync("/usr/bin/python3", TimeSpan.FromSeconds(60), args);
        Assert.True(code == 0, $"slixmpp failed ({code}):\n{stdout}\n{stderr}\n--- server log ---\n{server.Log}");

        using var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var a = result.RootElement.GetProperty("a");
        var b = result.RootElement.GetProperty("b");
        Assert.StartsWith("juliet@localhost/", a.GetProperty("jid").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("romeo@localhost/", b.GetProperty("jid").GetString(), StringComparison.Ordinal);
        Assert.Equal(mechanism, a.GetProperty("mechanism").GetString());

        var toRomeo = b.GetProperty("received")[0];
        Assert.Equal("hello from 1", toRomeo.GetProperty("body").GetString());
        Assert.Equal(a.GetProperty("jid").GetString(), toRomeo.GetProperty("from").GetString());
        var toJuliet = a.GetProperty("received")[0];
        Assert.Equal("hello from 2", toJuliet.GetProperty("body").GetString());
        Assert.Equal(b.GetProperty("jid").GetString(), toJuliet.GetProperty("from").GetString());

        // One log line per connection opened, authenticated and closed (with the reason).
        await server.StopAsync();
        Assert.Contains("authenticated as juliet@localhost", server.Log, StringComparison.Ordinal);
        Assert.Contains("closed (", server.Log, StringComparison.Ordinal);
    }
}
