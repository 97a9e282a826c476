using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Web;

/// <summary>Group chat (XEP-0045) between two converse.js sessions of the demo page in headless Chromium, over WebSocket.</summary>
public sealed class ConverseMucBrowserTests
{
    private static string RepositoryRoot => Tendril.Tests.Support.RepositoryPaths.Root;

    [Fact]
    public async Task Two_converse_users_create_and_enter_a_room_and_talk_in_it()
    {
        var browserDir = Path.Combine(RepositoryRoot, "tests", "Tendril.Tests", "Browser");
        Assert.True(File.Exists("/usr/bin/chromium"), "Debian's chromium is required (./test.sh installs it).");
        Assert.True(Directory.Exists(Path.Combine(browserDir, "node_modules", "playwright-core")), "playwright-core is required (./test.sh runs npm ci in tests/Tendril.Tests/Browser).");
        await using var server = await TendrilProcess.StartAsync([("juliet@localhost", "pw-juliet"), ("romeo@localhost", "pw-romeo")], section =>
        {
            ((Dictionary<string, object>)section["Http"])["TrustLoopback"] = true;
            section["Demo"] = new Dictionary<string, object> { ["Enabled"] = true };
        });
        var artifacts = Path.Combine(RepositoryRoot, "artifacts", "browser");
        Directory.CreateDirectory(artifacts);
        const string text = "hello, capulets";
        var (code, stdout, stderr) = await TendrilProcess.RunAsync("node", TimeSpan.FromSeconds(150),
            Path.Combine(browserDir, "converse_muc.mjs"), server.HttpBase.ToString(), "verona@conference.localhost",
            "juliet@localhost", "pw-juliet", "Juliet", "romeo@localhost", "pw-romeo", "Romeo", text, artifacts);
        Assert.True(code == 0, $"converse group chat failed ({code}):\n{stdout}\n{stderr}\n--- server log ---\n{server.Log}");
        using var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var r = result.RootElement;
        Assert.Equal(text, r.GetProperty("b").GetProperty("got").GetString());
        Assert.Equal("re: " + text, r.GetProperty("a").GetProperty("got").GetString());
        Assert.Equal(["Juliet", "Romeo"], r.GetProperty("a").GetProperty("occupants").EnumerateArray().Select(o => o.GetString()!));
        // converse bookmarks the room (XEP-0402) with max_items "max" once the server says it takes it
        // (pubsub#config-node-max); it sent 9999 before, refused as above the limit: "Error while trying to update bookmarks".
        Assert.DoesNotContain(r.GetProperty("consoleErrors").EnumerateArray(), e => e.GetString()!.Contains("bookmarks", StringComparison.Ordinal));
    }
}
