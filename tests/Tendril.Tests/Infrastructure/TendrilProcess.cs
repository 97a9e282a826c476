using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Tendril.Tests.Infrastructure;

/// <summary>
/// The real server as a user runs it: the built <c>tendril</c> host in its own process, with a config file in a temp
/// folder, accounts added through the CLI, listening on free loopback ports.
/// </summary>
public sealed class TendrilProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private TendrilProcess(string directory, string configPath, int c2sPort, int directTlsPort, int httpPort, Process process, Dictionary<string, object> section)
    {
        Section = section;
        HttpPort = httpPort;
        Directory = directory;
        ConfigPath = configPath;
        C2sPort = c2sPort;
        DirectTlsPort = directTlsPort;
        _process = process;
    }

    public string Directory { get; }

    public string ConfigPath { get; }

    public int C2sPort { get; }

    public int DirectTlsPort { get; }

    public int HttpPort { get; }

    /// <summary>
    /// The HTTPS port (the server's self-signed certificate). Kestrel picks it (HttpsPort 0, so no other process can
    /// take it between choosing and binding); it is read from Kestrel's "Now listening on: https://…" log line.
    /// </summary>
    public int HttpsPort
    {
        get
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (true)
            {
                var match = System.Text.RegularExpressions.Regex.Match(Log, @"Now listening on: https://[^\s]*:(\d+)");
                if (match.Success) return int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                if (DateTime.UtcNow > deadline) throw new TimeoutException("No HTTPS listener in the log:\n" + Log);
                Thread.Sleep(50);
            }
        }
    }

    public Uri HttpsBase => new($"https://127.0.0.1:{HttpsPort}/");

    public int ProcessId => _process.Id;

    /// <summary>The <c>Tendril</c> section written to the config file (change it and call <see cref="WriteConfigAsync"/>).</summary>
    public Dictionary<string, object> Section { get; }

    /// <summary>Extra top-level sections of the config file (e.g. <c>Logging</c>).</summary>
    public Dictionary<string, object> ExtraSections { get; } = [];

    public Uri HttpBase => new($"http://127.0.0.1:{HttpPort}/");

    /// <summary>
    /// A client of the HTTPS port (the self-signed certificate accepted), with Basic credentials when a user is given:
    /// passwords go over HTTPS only (issue 19).
    /// </summary>
    public HttpClient HttpsClient(string? user = null, string? password = null, bool redirects = true, System.Net.CookieContainer? cookies = null)
    {
        var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true, AllowAutoRedirect = redirects };
        if (cookies is not null) handler.CookieContainer = cookies;
        var http = new HttpClient(handler) { BaseAddress = HttpsBase, Timeout = TimeSpan.FromSeconds(60) };
        if (user is not null)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{user}:{password}")));
        }
        return http;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Rewrites the config file from <see cref="Section"/> and <see cref="ExtraSections"/>.</summary>
    public Task WriteConfigAsync()
    {
        var root = new Dictionary<string, object>(ExtraSections) { ["Tendril"] = Section };
        return File.WriteAllTextAsync(ConfigPath, JsonSerializer.Serialize(root));
    }

    /// <summary>Sends a signal (HUP, TERM…) to the server process.</summary>
    public async Task SignalAsync(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    /// <summary>Waits until the log contains <paramref name="text"/> at least <paramref name="occurrences"/> times.</summary>
    public async Task WaitForLogAsync(string text, int occurrences = 1, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (DateTime.UtcNow < deadline)
        {
            var log = Log;
            var count = 0;
            for (var at = log.IndexOf(text, StringComparison.Ordinal); at >= 0; at = log.IndexOf(text, at + text.Length, StringComparison.Ordinal)) count++;
            if (count >= occurrences) return;
            await Task.Delay(50);
        }
        throw new TimeoutException($"The log never contained '{text}' {occurrences} time(s):\n{Log}");
    }

    /// <summary>A connected, bound client (any certificate accepted) on the STARTTLS port.</summary>
    public async Task<Tendril.Client.XmppClient> ConnectAsync(string jid, string password, string? resource = null)
    {
        var client = new Tendril.Client.XmppClient(new Tendril.Client.XmppClientOptions
        {
            Jid = Tendril.Protocol.Jid.Parse(jid),
            Password = password,
            Host = "127.0.0.1",
            Port = C2sPort,
            Resource = resource,
            AcceptAnyCertificate = true,
        });
        await client.ConnectAsync();
        return client;
    }

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    public static string TendrilDll => Path.Combine(AppContext.BaseDirectory, "tendril.dll");

    /// <summary>
    /// Starts a server on fresh ports. A port found free can still be taken before the server binds it (by another test
    /// process starting a server at the same moment): the start is tried again on other ports, at most three times.
    /// </summary>
    public static async Task<TendrilProcess> StartAsync(IEnumerable<(string Jid, string Password)> users, Action<Dictionary<string, object>>? configure = null)
    {
        var accounts = users.ToArray();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnceAsync(accounts, configure);
            }
            catch (InvalidOperationException e) when (attempt < 3 && e.Message.Contains("already in use", StringComparison.Ordinal))
            {
            }
        }
    }

    private static async Task<TendrilProcess> StartOnceAsync(IEnumerable<(string Jid, string Password)> users, Action<Dictionary<string, object>>? configure)
    {
        var directory = Path.Combine(Path.GetTempPath(), "tendril-proc-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        int c2s = FreePort(), tls = FreePort(), http = FreePort();
        var section = new Dictionary<string, object>
        {
            ["Domain"] = "localhost",
            ["DataDirectory"] = Path.Combine(directory, "data"),
            ["C2s"] = new Dictionary<string, object> { ["Address"] = "loopback", ["Port"] = c2s, ["DirectTlsPort"] = tls },
            ["Http"] = new Dictionary<string, object> { ["Address"] = "loopback", ["Port"] = http, ["HttpsPort"] = 0 },
        };
        configure?.Invoke(section);
        var configPath = Path.Combine(directory, "tendril.json");
        await File.WriteAllTextAsync(configPath, JsonSerializer.Serialize(new Dictionary<string, object> { ["Tendril"] = section }));
        foreach (var (jid, password) in users)
        {
            var (code, _, stderr) = await RunCliAsync(password + "\n", "adduser", jid, "--config", configPath);
            Assert.True(code == 0, $"adduser {jid} failed ({code}): {stderr}");
        }
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        psi.ArgumentList.Add(TendrilDll);
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(configPath);
        var process = Process.Start(psi)!;
        var server = new TendrilProcess(directory, configPath, c2s, tls, http, process, section);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (server._log) server._log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (server._log) server._log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await server.WaitListeningAsync();
        return server;
    }

    private async Task WaitListeningAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"tendril serve exited with {_process.ExitCode}:\n{Log}");
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, DirectTlsPort);
                using var probe2 = new TcpClient();
                await probe2.ConnectAsync(IPAddress.Loopback, C2sPort);
                using var probe3 = new TcpClient();
                await probe3.ConnectAsync(IPAddress.Loopback, HttpPort);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        throw new TimeoutException("tendril serve did not start listening:\n" + Log);
    }

    /// <summary>Runs the CLI (<c>dotnet tendril.dll ARGS</c>) to completion with the given stdin.</summary>
    public static Task<(int Code, string Stdout, string Stderr)> RunCliAsync(string stdin, params string[] args) =>
        RunCliAsync(new Dictionary<string, string>(), stdin, args);

    /// <summary>Runs the CLI with extra environment variables (<c>Tendril__…</c> settings).</summary>
    public static Task<(int Code, string Stdout, string Stderr)> RunCliAsync(IReadOnlyDictionary<string, string> environment, string stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet");
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        psi.ArgumentList.Add(TendrilDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return RunAsync(psi, stdin, TimeSpan.FromSeconds(60));
    }

    /// <summary>Runs a program (e.g. /usr/bin/python3) to completion, returning its output.</summary>
    public static Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(file);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return RunAsync(psi, stdin: null, timeout);
    }

    /// <summary>
    /// Runs <paramref name="psi"/> (its output redirected here) to completion with <paramref name="stdin"/> as its
    /// input (none when null); past <paramref name="timeout"/> it is killed and a <see cref="TimeoutException"/>
    /// carries what it wrote.
    /// </summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(ProcessStartInfo psi, string? stdin, TimeSpan timeout)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = stdin is not null;
        psi.UseShellExecute = false;
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} timed out:\n{await stdout}\n{await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    private static int FreePort() => Tendril.Tests.Support.LoopbackPorts.Free();

    /// <summary>Stops the server the way an operator does (SIGTERM) and waits for it.</summary>
    public async Task<int> StopAsync()
    {
        if (_process.HasExited) return _process.ExitCode;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
