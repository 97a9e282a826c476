using System.Globalization;
using System.Text.Json;
using Tendril.Tests.Infrastructure;

namespace Tendril.Tests.Interop;

/// <summary>Runs one of the Interop/*.py slixmpp scripts (Debian's python3-slixmpp) against a real server process.</summary>
internal static class SlixmppScript
{
    /// <summary>
    /// Runs <paramref name="script"/> with the server's address and port followed by <paramref name="args"/>, asserts
    /// it exited 0 (with its output and the server log otherwise) and returns the JSON object of its last output line.
    /// </summary>
    public static async Task<JsonDocument> RunAsync(TendrilProcess server, string script, params string[] args)
    {
        Assert.True(File.Exists("/usr/bin/python3"), "Debian's python3 is required (test.sh installs python3-slixmpp).");
        var path = Path.Combine(AppContext.BaseDirectory, "Interop", script);
        var port = server.C2sPort.ToString(CultureInfo.InvariantCulture);
        var (code, stdout, stderr) = await TendrilProcess.RunAsync("/usr/bin/python3", TimeSpan.FromSeconds(90), [path, "127.0.0.1", port, .. args]);
        Assert.True(code == 0, $"slixmpp failed ({code}):\n{stdout}\n{stderr}\n--- server log ---\n{server.Log}");
        return JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
    }
}
