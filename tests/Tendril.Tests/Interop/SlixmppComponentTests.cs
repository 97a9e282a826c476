using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>XEP-0114 against the real process: slixmpp's ComponentXMPP connects as an external component and a slixmpp user talks to it.</summary>
public sealed class SlixmppComponentTests
{
    private static string Script => Path.Combine(AppContext.BaseDirectory, "Interop", "slixmpp_component.py");

    [Fact]
    public async Task A_slixmpp_component_is_reachable_by_users()
    {
        Assert.True(File.Exists("/usr/bin/python3"), "Debian's python3 is required (test.sh installs python3-slixmpp).");
        var componentPort = Tendril.Tests.Support.LoopbackPorts.Free();
        await using var server = await TendrilProcess.StartAsync([("alice@localhost", "alice-secret")], section =>
            section["Components"] = new Dictionary<string, object>
            {
                ["Address"] = "loopback",
                ["Port"] = componentPort,
                ["Services"] = new[] { new Dictionary<string, object> { ["Domain"] = "echo.localhost", ["Secret"] = "component-secret" } },
            });
        var (code, stdout, stderr) = await TendrilProcess.RunAsync("/usr/bin/python3", TimeSpan.FromSeconds(90),
            [Script, "127.0.0.1", server.C2sPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
             componentPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "echo.localhost", "component-secret", "alice@localhost", "alice-secret"]);
        Assert.True(code == 0, $"slixmpp failed ({code}):\n{stdout}\n{stderr}\n--- server log ---\n{server.Log}");

        using var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var r = result.RootElement;
        Assert.Contains("echo.localhost", r.GetProperty("items").EnumerateArray().Select(i => i.GetString()));
        Assert.Contains(r.GetProperty("identities").EnumerateArray(), i => i[0].GetString() == "component" && i[1].GetString() == "generic");
        var echoed = r.GetProperty("echoed");
        Assert.Equal("echo: hello", echoed.GetProperty("body").GetString());
        Assert.Equal("bot@echo.localhost", echoed.GetProperty("from").GetString());
    }
}
