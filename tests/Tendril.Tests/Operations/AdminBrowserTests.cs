using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Operations;

/// <summary>
/// The admin page in real headless Chromium (Debian's chromium, driven by playwright-core from a Node script under
/// tests/Tendril.Tests/Browser, installed by ./test.sh): sign in, see the session list with a connected client.
/// The screenshot is kept as a test artifact under artifacts/browser/.
/// </summary>
public sealed class AdminBrowserTests
{
    private static string RepositoryRoot => Tendril.Tests.Support.RepositoryPaths.Root;

    [Fact]
    public async Task An_admin_signs_in_and_sees_the_connected_client_in_the_session_list()
    {
        var browserDir = Path.Combine(RepositoryRoot, "tests", "Tendril.Tests", "Browser");
        Assert.True(File.Exists("/usr/bin/chromium"), "Debian's chromium is required (./test.sh installs it).");
        Assert.True(Directory.Exists(Path.Combine(browserDir, "node_modules", "playwright-core")), "playwright-core is required (./test.sh runs npm install in tests/Tendril.Tests/Browser).");

        await using var server = await TendrilProcess.StartAsync([("admin@localhost", "admin-pw"), ("juliet@localhost", "pw-juliet")],
            section => section["Admin"] = new Dictionary<string, object> { ["Users"] = new[] { "admin@localhost" } });
        await using var juliet = await server.ConnectAsync("juliet@localhost", "pw-juliet", "balcony");

        var artifacts = Path.Combine(RepositoryRoot, "artifacts", "browser");
        Directory.CreateDirectory(artifacts);
        var screenshot = Path.Combine(artifacts, "admin-page.png");
        File.Delete(screenshot);
        var (code, stdout, stderr) = await TendrilProcess.RunAsync("node", TimeSpan.FromSeconds(90),
            Path.Combine(browserDir, "admin_page.mjs"), server.HttpsBase.ToString(), "admin@localhost", "admin-pw", "juliet@localhost/balcony", screenshot);
        Assert.True(code == 0, $"browser test failed ({code}):\n{stdout}\n{stderr}\n--- server log ---\n{server.Log}");

        using var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        Assert.Contains("juliet@localhost/balcony", result.RootElement.GetProperty("sessions").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("Tendril admin", result.RootElement.GetProperty("title").GetString());
        Assert.Equal("1", result.RootElement.GetProperty("liveSessions").GetString());
        Assert.Empty(result.RootElement.GetProperty("consoleErrors").EnumerateArray()); // no CSP violations
        Assert.True(new FileInfo(screenshot).Length > 1000);
    }
}
