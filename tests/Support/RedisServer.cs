using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tendril.Tests.Support;

/// <summary>
/// A real <c>redis-server</c> (Debian's /usr/bin/redis-server) for tests: its own temp directory, a free loopback
/// port chosen at start and kept across <see cref="Restart"/>, no persistence (<c>--save '' --appendonly no</c>),
/// and a unix socket beside it. Fault injection: <see cref="Kill"/> (SIGKILL), <see cref="Stop"/> (SIGTERM),
/// <see cref="Pause"/>/<see cref="Resume"/> (SIGSTOP/SIGCONT). Usable as an xunit fixture; disposing kills it.
/// Include it with <c>&lt;Compile Include="../Support/*.cs" LinkBase="Support" /&gt;</c>.
/// </summary>
public sealed class RedisServer : IDisposable
{
    public const string Executable = "/usr/bin/redis-server";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly string[] _extraArgs;
    private readonly Lock _sync = new();
    private Process? _process;
    private bool _paused;

    /// <summary>Creates and starts a plain server (xunit fixtures need one public constructor).</summary>
    public RedisServer()
        : this([])
    {
    }

    private RedisServer(string[] extraArgs)
    {
        _extraArgs = extraArgs;
        Directory = Path.Combine(Path.GetTempPath(), "tendril-redis-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        Start();
    }

    /// <summary>Creates and starts a server with <paramref name="extraArgs"/> appended (e.g. "--requirepass", "secret").</summary>
    public static RedisServer StartWith(params string[] extraArgs) => new(extraArgs);

    /// <summary>The server's working directory (deleted on dispose).</summary>
    public string Directory { get; }

    /// <summary>The loopback TCP port, kept across restarts.</summary>
    public int Port { get; private set; }

    /// <summary><c>127.0.0.1:PORT</c>, as RedisClientOptions.EndPoint takes it.</summary>
    public string EndPoint => "127.0.0.1:" + Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public string UnixSocketPath => Path.Combine(Directory, "redis.sock");

    public bool IsRunning
    {
        get { lock (_sync) return _process is { HasExited: false }; }
    }

    /// <summary>Process id of the running server (for signals of a test's own).</summary>
    public int ProcessId
    {
        get { lock (_sync) return _process?.Id ?? throw new InvalidOperationException("redis-server is not running."); }
    }

    /// <summary>Starts the server (on the same port after the first start) and waits until it accepts connections.</summary>
    public void Start()
    {
        lock (_sync)
        {
            if (_process is { HasExited: false }) throw new InvalidOperationException("redis-server is already running.");
            bool fixedPort = Port != 0;
            for (int attempt = 0; ; attempt++)
            {
                if (!fixedPort) Port = FreePort();
                if (TryStart(out var error)) return;
                // Another process took the port between probe and bind: take another one (restarts keep theirs).
                bool portTaken = error.Contains("Address already in use", StringComparison.Ordinal);
                if (!portTaken || (fixedPort ? attempt >= 20 : attempt >= 5))
                    throw new InvalidOperationException("redis-server did not start: " + error);
                if (fixedPort) Thread.Sleep(250); // the old process' port may still be held for a moment
            }
        }
    }

    /// <summary>SIGTERM, and waits for the process to exit.</summary>
    public void Stop() => Signal("TERM", waitForExit: true);

    /// <summary>SIGKILL, and waits for the process to exit: connections see a reset/EOF at once.</summary>
    public void Kill() => Signal("KILL", waitForExit: true);

    /// <summary>Stops (SIGTERM) when running, then starts again on the same port.</summary>
    public void Restart()
    {
        if (IsRunning) Stop();
        Start();
    }

    /// <summary>SIGSTOP: the process stays, its sockets stay open, nothing is answered.</summary>
    public void Pause()
    {
        Signal("STOP", waitForExit: false);
        _paused = true;
    }

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume()
    {
        Signal("CONT", waitForExit: false);
        _paused = false;
    }

    /// <summary>Runs <c>redis-cli -p PORT args…</c> (with the password when one was given) and returns its output.</summary>
    public string Cli(params string[] args)
    {
        var start = new ProcessStartInfo("/usr/bin/redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-p");
        start.ArgumentList.Add(Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        int pass = Array.IndexOf(_extraArgs, "--requirepass");
        if (pass >= 0)
        {
            start.ArgumentList.Add("--no-auth-warning");
            start.ArgumentList.Add("-a");
            start.ArgumentList.Add(_extraArgs[pass + 1]);
        }
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output + stderr.Result;
    }

    public void Dispose()
    {
        lock (_sync)
        {
            if (_process is { HasExited: false })
            {
                try
                {
                    _process.Kill();
                    _process.WaitForExit(30_000);
                }
                catch (InvalidOperationException)
                {
                }
            }
            _process?.Dispose();
            _process = null;
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private bool TryStart(out string error)
    {
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
        };
        foreach (var arg in new[]
                 {
                     "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--dir", Directory, "--logfile", "",
                     "--unixsocket", UnixSocketPath, "--unixsocketperm", "700", "--daemonize", "no",
                 })
            start.ArgumentList.Add(arg);
        foreach (var arg in _extraArgs) start.ArgumentList.Add(arg);

        var ready = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new System.Text.StringBuilder();
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (log) log.AppendLine(e.Data);
            if (e.Data.Contains("Ready to accept connections", StringComparison.Ordinal)) ready.TrySetResult(true);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (log) log.AppendLine(e.Data);
        };
        process.Exited += (_, _) => ready.TrySetResult(false);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool started = ready.Task.Wait(StartTimeout) && ready.Task.Result;
        if (started)
        {
            _process?.Dispose();
            _process = process;
            error = "";
            return true;
        }
        try
        {
            if (!process.HasExited) process.Kill();
            process.WaitForExit(30_000);
        }
        catch (InvalidOperationException)
        {
        }
        process.Dispose();
        lock (log) error = log.ToString();
        return false;
    }

    private void Signal(string signal, bool waitForExit)
    {
        Process process;
        lock (_sync) process = _process is { HasExited: false } p ? p : throw new InvalidOperationException("redis-server is not running.");
        if (waitForExit && _paused && signal == "TERM")
        {
            // A stopped process handles SIGTERM only once continued.
            Signal("CONT", waitForExit: false);
            _paused = false;
        }
        using (var kill = Process.Start(new ProcessStartInfo("/bin/kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!)
            kill.WaitForExit();
        if (waitForExit)
        {
            if (!process.WaitForExit(60_000)) throw new InvalidOperationException($"redis-server did not exit after SIG{signal}.");
            process.WaitForExit(); // drains the redirected output
            if (signal == "KILL") _paused = false;
        }
    }

    private static int FreePort() => LoopbackPorts.Free();
}
