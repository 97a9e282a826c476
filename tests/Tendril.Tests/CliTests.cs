using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Tendril.Protocol.Sasl;
using Tendril.Server.Configuration;
using Tendril.Server.Tls;
using Tendril.Storage.Sqlite;

namespace Tendril.Tests;

/// <summary>The <c>tendril</c> command line, driven in-process against a temporary folder.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "tendril-cli-tests-" + Guid.NewGuid().ToString("N"));

    public CliTests() => Directory.CreateDirectory(_root);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string ConfigPath => Path.Combine(_root, "tendril.json");
    private string DataPath => Path.Combine(_root, "data");

    private sealed record Result(int ExitCode, string Out, string Err);

    private static async Task<Result> Piped(string stdin, params string[] args)
    {
        using var input = new StringReader(stdin);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await Cli.Run(args, input, output, error);
        return new Result(code, output.ToString(), error.ToString());
    }

    private static Task<Result> Tendril(params string[] args) => Piped("", args);

    /// <summary>A configuration for example.org in the temp folder (written directly, independent of <c>init</c>).</summary>
    private void WriteConfig(string domain = "example.org", int iterations = 4096)
    {
        var json = JsonSerializer.Serialize(new
        {
            Tendril = new
            {
                Domain = domain,
                DataDirectory = DataPath,
                C2s = new { Address = "loopback", Port = 0, DirectTlsPort = 0 },
                Http = new { Address = "loopback", Port = 0, HttpsPort = 0 },
                Sasl = new { ScramIterations = iterations },
            },
        });
        File.WriteAllText(ConfigPath, json);
    }

    private async Task<Storage.Account?> FindAccount(string username, string domain = "example.org")
    {
        await using var storage = new SqliteStorage(Path.Combine(DataPath, "tendril.db"));
        await storage.InitializeAsync();
        return await storage.Accounts.FindAsync(domain, username);
    }

    // ---- init ----

    [Fact]
    public async Task Init_writes_a_loadable_config_and_a_certificate()
    {
        var result = await Tendril("init", "example.org", "--data", DataPath, "--config", ConfigPath);
        Assert.True(result.ExitCode == 0, result.Err);

        var configuration = new ConfigurationBuilder().AddJsonFile(ConfigPath).Build();
        var options = new TendrilOptions();
        configuration.GetSection(TendrilOptions.SectionName).Bind(options);
        options.Validate();
        Assert.Equal("example.org", options.Domain);
        Assert.Equal(DataPath, options.DataDirectory);
        Assert.Equal(new TendrilOptions().C2s.Port, options.C2s.Port);
        Assert.Equal(new TendrilOptions().Sasl.ScramIterations, options.Sasl.ScramIterations);

        var (certificatePath, keyPath) = CertificateProvider.DefaultPaths(DataPath, "example.org");
        using var certificate = CertificateProvider.LoadPem(certificatePath, keyPath);
        Assert.True(certificate.HasPrivateKey);
        Assert.True(certificate.MatchesHostname("example.org"));
        Assert.True(certificate.MatchesHostname("conference.example.org"));
        Assert.True(certificate.NotAfter > DateTime.Now.AddYears(9));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
    }

    [Fact]
    public async Task Init_writes_a_postgres_config_when_asked()
    {
        var result = await Tendril("init", "example.org", "--data", DataPath, "--config", ConfigPath, "--postgres", "Host=db.example.org;Database=tendril;Username=tendril");
        Assert.True(result.ExitCode == 0, result.Err);
        var options = new TendrilOptions();
        new ConfigurationBuilder().AddJsonFile(ConfigPath).Build().GetSection(TendrilOptions.SectionName).Bind(options);
        options.Validate();
        Assert.Equal("postgres", options.Storage.Provider);
        Assert.Equal("Host=db.example.org;Database=tendril;Username=tendril", options.Storage.PostgresConnectionString);
        Assert.Contains("Tendril__Storage__PostgresPassword", result.Out, StringComparison.Ordinal); // init says where the password goes

        // --storage postgres without a connection string: written empty, with a hint; the default stays sqlite.
        result = await Tendril("init", "example.org", "--data", DataPath, "--config", ConfigPath, "--force", "--storage", "postgres");
        Assert.True(result.ExitCode == 0, result.Err);
        Assert.Contains("Tendril__Storage__PostgresConnectionString", result.Out, StringComparison.Ordinal);
        options = new TendrilOptions();
        new ConfigurationBuilder().AddJsonFile(ConfigPath).Build().GetSection(TendrilOptions.SectionName).Bind(options);
        Assert.Equal("postgres", options.Storage.Provider);
        Assert.Throws<InvalidOperationException>(options.Validate); // serve refuses until the connection string is set

        Assert.Equal(2, (await Tendril("init", "example.org", "--data", DataPath, "--config", ConfigPath, "--force", "--storage", "mysql")).ExitCode);
        Assert.Equal(2, (await Tendril("init", "example.org", "--data", DataPath, "--config", ConfigPath, "--force", "--storage", "sqlite", "--postgres", "Host=x")).ExitCode);
        Assert.Equal(1, (await Tendril("init", "example.org", "--data", DataPath, "--config", ConfigPath, "--force", "--postgres", "NoSuchKeyword=1")).ExitCode);
    }

    [Fact]
    public async Task Init_refuses_to_overwrite_without_force()
    {
        Assert.Equal(0, (await Tendril("init", "example.org", "--data", DataPath, "--config", ConfigPath)).ExitCode);
        var (certificatePath, _) = CertificateProvider.DefaultPaths(DataPath, "example.org");
        var firstConfig = await File.ReadAllTextAsync(ConfigPath);
        var firstCertificate = await File.ReadAllTextAsync(certificatePath);

        var again = await Tendril("init", "example.net", "--data", DataPath, "--config", ConfigPath);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("--force", again.Err, StringComparison.Ordinal);
        Assert.Equal(firstConfig, await File.ReadAllTextAsync(ConfigPath));

        var forced = await Tendril("init", "example.org", "--data", DataPath, "--config", ConfigPath, "--force");
        Assert.True(forced.ExitCode == 0, forced.Err);
        Assert.NotEqual(firstCertificate, await File.ReadAllTextAsync(certificatePath));
    }

    [Fact]
    public async Task Init_rejects_a_user_jid_as_domain()
    {
        var result = await Tendril("init", "juliet@example.org", "--data", DataPath, "--config", ConfigPath);
        Assert.Equal(1, result.ExitCode);
        Assert.False(File.Exists(ConfigPath));
    }

    // ---- accounts ----

    [Fact]
    public async Task Adduser_reads_the_password_from_stdin_and_users_lists_it()
    {
        WriteConfig();
        var added = await Piped("s3cret pass\n", "adduser", "juliet@example.org", "--config", ConfigPath);
        Assert.True(added.ExitCode == 0, added.Err);
        Assert.Equal(0, (await Piped("hunter2\n", "adduser", "romeo@example.org", "--config", ConfigPath)).ExitCode);

        var account = await FindAccount("juliet");
        Assert.NotNull(account);
        Assert.Equal(ScramHash.Sha1, account.Sha1.Hash);
        Assert.Equal(ScramHash.Sha256, account.Sha256.Hash);
        Assert.Equal(4096, account.Sha256.Iterations);
        Assert.True(account.Sha256.Verify("s3cret pass"));
        Assert.True(account.Sha1.Verify("s3cret pass"));
        Assert.False(account.Sha256.Verify("hunter2"));

        var users = await Tendril("users", "--config", ConfigPath);
        Assert.Equal(0, users.ExitCode);
        Assert.Equal(["juliet@example.org", "romeo@example.org"], users.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Fact]
    public async Task Adduser_uses_the_configured_iteration_count()
    {
        WriteConfig(iterations: 5000);
        Assert.Equal(0, (await Piped("pw\n", "adduser", "juliet@example.org", "--config", ConfigPath)).ExitCode);
        var account = await FindAccount("juliet");
        Assert.Equal(5000, account!.Sha1.Iterations);
        Assert.Equal(5000, account.Sha256.Iterations);
    }

    [Fact]
    public async Task Adduser_reads_the_password_file()
    {
        WriteConfig();
        var file = Path.Combine(_root, "pw.txt");
        await File.WriteAllTextAsync(file, "from-file\nignored second line\n");
        var result = await Piped("not this one\n", "adduser", "juliet@example.org", "--password-file", file, "--config", ConfigPath);
        Assert.True(result.ExitCode == 0, result.Err);
        Assert.True((await FindAccount("juliet"))!.Sha256.Verify("from-file"));
    }

    [Fact]
    public async Task Adduser_of_an_existing_user_fails()
    {
        WriteConfig();
        Assert.Equal(0, (await Piped("first\n", "adduser", "juliet@example.org", "--config", ConfigPath)).ExitCode);
        var again = await Piped("second\n", "adduser", "juliet@example.org", "--config", ConfigPath);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already exists", again.Err, StringComparison.Ordinal);
        Assert.True((await FindAccount("juliet"))!.Sha256.Verify("first"));
    }

    [Fact]
    public async Task Adduser_batch_creates_every_account_from_stdin()
    {
        WriteConfig();
        var lines = "# load accounts\njuliet@example.org s3cret pass\n\nromeo@example.org\thunter2\nload0@example.org password\n";
        var result = await Piped(lines, "adduser", "--batch", "--config", ConfigPath);
        Assert.True(result.ExitCode == 0, result.Err);
        Assert.Contains("Created 3 accounts.", result.Out, StringComparison.Ordinal);
        Assert.True((await FindAccount("juliet"))!.Sha256.Verify("s3cret pass"));
        Assert.True((await FindAccount("romeo"))!.Sha1.Verify("hunter2"));
        Assert.Equal(4096, (await FindAccount("load0"))!.Sha256.Iterations);
    }

    [Fact]
    public async Task Adduser_batch_skips_and_reports_existing_accounts()
    {
        WriteConfig();
        Assert.Equal(0, (await Piped("first\n", "adduser", "juliet@example.org", "--config", ConfigPath)).ExitCode);
        var result = await Piped("juliet@example.org second\nromeo@example.org pw\n", "adduser", "--batch", "--config", ConfigPath);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("juliet@example.org already exists", result.Err, StringComparison.Ordinal);
        Assert.Contains("Created 1 accounts, 1 already existed.", result.Out, StringComparison.Ordinal);
        Assert.True((await FindAccount("juliet"))!.Sha256.Verify("first"));
        Assert.NotNull(await FindAccount("romeo"));
    }

    [Fact]
    public async Task Adduser_batch_checks_every_line_before_writing()
    {
        WriteConfig();
        var result = await Piped("juliet@example.org pw\nromeo@example.net pw\n", "adduser", "--batch", "--config", ConfigPath);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("not on this server's domain", result.Err, StringComparison.Ordinal);
        Assert.Null(await FindAccount("juliet"));
        var noPassword = await Piped("juliet@example.org\n", "adduser", "--batch", "--config", ConfigPath);
        Assert.Equal(1, noPassword.ExitCode);
        Assert.Contains("Line 1", noPassword.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Adduser_needs_a_jid_or_batch_but_not_both()
    {
        WriteConfig();
        Assert.Equal(2, (await Piped("pw\n", "adduser", "--config", ConfigPath)).ExitCode);
        Assert.Equal(2, (await Piped("pw\n", "adduser", "juliet@example.org", "--batch", "--config", ConfigPath)).ExitCode);
    }

    [Fact]
    public async Task Passwd_changes_the_credentials()
    {
        WriteConfig();
        Assert.Equal(0, (await Piped("old\n", "adduser", "juliet@example.org", "--config", ConfigPath)).ExitCode);
        var before = await FindAccount("juliet");

        var result = await Piped("new\n", "passwd", "juliet@example.org", "--config", ConfigPath);
        Assert.True(result.ExitCode == 0, result.Err);
        var after = await FindAccount("juliet");
        Assert.NotEqual(before!.Sha256.StoredKey, after!.Sha256.StoredKey);
        Assert.NotEqual(before.Sha1.StoredKey, after.Sha1.StoredKey);
        Assert.True(after.Sha256.Verify("new"));
        Assert.False(after.Sha256.Verify("old"));
        Assert.Equal(before.CreatedAt, after.CreatedAt);
    }

    [Fact]
    public async Task Passwd_of_a_missing_user_fails()
    {
        WriteConfig();
        var result = await Piped("pw\n", "passwd", "ghost@example.org", "--config", ConfigPath);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("No such user", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deluser_removes_the_account()
    {
        WriteConfig();
        Assert.Equal(0, (await Piped("pw\n", "adduser", "juliet@example.org", "--config", ConfigPath)).ExitCode);
        Assert.Equal(0, (await Tendril("deluser", "juliet@example.org", "--config", ConfigPath)).ExitCode);
        Assert.Null(await FindAccount("juliet"));
        Assert.Equal("", (await Tendril("users", "--config", ConfigPath)).Out);

        var again = await Tendril("deluser", "juliet@example.org", "--config", ConfigPath);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("No such user", again.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("juliet@@example.org")]
    [InlineData("@example.org")]
    [InlineData("example.org")]
    [InlineData("juliet@example.org/balcony")]
    [InlineData("")]
    public async Task A_bad_jid_is_rejected(string jid)
    {
        WriteConfig();
        var result = await Piped("pw\n", "adduser", jid, "--config", ConfigPath);
        Assert.Equal(1, result.ExitCode);
        Assert.NotEqual("", result.Err);
        Assert.Equal("", (await Tendril("users", "--config", ConfigPath)).Out);
    }

    [Fact]
    public async Task A_jid_of_another_domain_is_rejected()
    {
        WriteConfig();
        var result = await Piped("pw\n", "adduser", "juliet@example.net", "--config", ConfigPath);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("example.org", result.Err, StringComparison.Ordinal);
        Assert.Null(await FindAccount("juliet", "example.net"));
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("")]
    public async Task An_empty_password_is_rejected(string stdin)
    {
        WriteConfig();
        var result = await Piped(stdin, "adduser", "juliet@example.org", "--config", ConfigPath);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("empty", result.Err, StringComparison.Ordinal);
        Assert.Null(await FindAccount("juliet"));
    }

    // ---- usage and configuration errors ----

    [Fact]
    public async Task A_password_on_the_command_line_is_a_usage_error()
    {
        WriteConfig();
        var result = await Piped("", "adduser", "juliet@example.org", "s3cret", "--config", ConfigPath);
        Assert.Equal(2, result.ExitCode);
    }

    [Theory]
    [InlineData]
    [InlineData("frobnicate")]
    [InlineData("adduser")]
    [InlineData("users", "--no-such-option")]
    public async Task Usage_errors_exit_with_2(params string[] args)
    {
        var result = await Tendril(args);
        Assert.Equal(2, result.ExitCode);
        Assert.NotEqual("", result.Err);
    }

    [Fact]
    public async Task Help_exits_with_0()
    {
        var result = await Tendril("--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("adduser", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_config_file_is_an_error()
    {
        var result = await Tendril("users", "--config", Path.Combine(_root, "missing.json"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("missing.json", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_configuration_is_an_error()
    {
        WriteConfig(iterations: 10);
        var result = await Tendril("users", "--config", ConfigPath);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("ScramIterations", result.Err, StringComparison.Ordinal);

        await File.WriteAllTextAsync(ConfigPath, """{ "Tendril": { "Domian": "typo.example" } }""");
        result = await Tendril("serve", "--config", ConfigPath);
        Assert.Equal(1, result.ExitCode);
        // Issue 21: in our words, with the likely key, not the .NET binder's ("'ErrorOnUnknownConfiguration' was set…").
        Assert.Equal("tendril: Invalid configuration: unknown setting Tendril:Domian (did you mean Tendril:Domain?)", result.Err.Trim());
    }

    [Fact]
    public async Task An_unknown_command_is_named_with_the_list_of_commands()
    {
        var result = await Tendril("frobnicate");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            "tendril: unknown command 'frobnicate'; the commands are init, serve, adduser, passwd, deluser, users.\nRun 'tendril --help' for usage.",
            result.Err.Trim().ReplaceLineEndings("\n"));

        result = await Tendril();
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("tendril: no command given; the commands are init, serve, adduser,", result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("Required command", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_jid_is_one_clear_line()
    {
        WriteConfig();
        var result = await Piped("secret\n", "adduser", "not a jid", "--config", ConfigPath);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("tendril: 'not a jid' is not a valid JID (bad domainpart); an account JID looks like user@example.org.", result.Err.Trim());
    }

    // ---- serve ----

    [Fact]
    public async Task Serve_initializes_storage_and_stops_on_cancellation()
    {
        WriteConfig();
        using var stop = new CancellationTokenSource();
        using var stdin = new StringReader("");
        using var output = new StringWriter();
        using var error = new StringWriter();
        var serve = Cli.Run(["serve", "--config", ConfigPath], stdin, output, error, stop.Token);

        var database = Path.Combine(DataPath, "tendril.db");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!File.Exists(database) && !serve.IsCompleted && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.False(serve.IsCompleted, $"serve exited early: {error}");
        Assert.True(File.Exists(database));

        await stop.CancelAsync();
        var finished = await Task.WhenAny(serve, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.Same(serve, finished);
        Assert.Equal(0, await serve);
    }

    [Theory]
    [InlineData("C2s", "Port", "c2s listener", "Tendril:C2s:Port")]
    [InlineData("C2s", "DirectTlsPort", "c2s-tls listener", "Tendril:C2s:DirectTlsPort")]
    [InlineData("Http", "Port", "HTTP listener", "Tendril:Http:Port")]
    [InlineData("Http", "HttpsPort", "HTTPS listener", "Tendril:Http:HttpsPort")]
    public async Task Serve_with_a_port_in_use_exits_with_1_naming_the_listener_address_port_and_setting(string section, string key, string listener, string setting)
    {
        // Another process holds the port (issue 21): the start fails in one line each on the log and stderr, no stack trace.
        using var holder = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        holder.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        holder.Listen();
        var port = ((System.Net.IPEndPoint)holder.LocalEndPoint!).Port;
        var c2s = new Dictionary<string, object> { ["Address"] = "loopback", ["Port"] = 0, ["DirectTlsPort"] = 0 };
        var http = new Dictionary<string, object> { ["Address"] = "loopback", ["Port"] = 0, ["HttpsPort"] = 0 };
        (section == "C2s" ? c2s : http)[key] = port;
        await File.WriteAllTextAsync(ConfigPath, JsonSerializer.Serialize(new { Tendril = new { Domain = "example.org", DataDirectory = DataPath, C2s = c2s, Http = http } }));

        var (code, stdout, stderr) = await Infrastructure.TendrilProcess.RunCliAsync("", "serve", "--config", ConfigPath);
        Assert.Equal(1, code);
        var expected = $"the {listener} cannot listen on 127.0.0.1:{port}: the address is already in use";
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.Contains(setting, stderr, StringComparison.Ordinal);
        Assert.Contains(expected, stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("SocketException", stdout + stderr, StringComparison.Ordinal);
    }

    // ---- certificate provider ----

    [Fact]
    public void CertificateProvider_generates_a_certificate_once_and_reuses_it()
    {
        var options = new TendrilOptions { Domain = "example.org", DataDirectory = DataPath };
        using var first = new CertificateProvider(options).GetCertificate();
        Assert.True(first.HasPrivateKey);
        Assert.Equal("CN=example.org", first.Subject);
        var (certificatePath, keyPath) = CertificateProvider.DefaultPaths(DataPath, "example.org");
        Assert.True(File.Exists(certificatePath));
        Assert.True(File.Exists(keyPath));

        using var second = new CertificateProvider(options).GetCertificate();
        Assert.Equal(first.Thumbprint, second.Thumbprint);
    }

    [Fact]
    public void CertificateProvider_loads_a_configured_pem_with_the_key_in_the_same_file()
    {
        using var created = CertificateProvider.CreateSelfSigned("chat.example");
        var certificatePath = Path.Combine(_root, "own.crt");
        var keyPath = Path.Combine(_root, "own.key");
        CertificateProvider.WritePem(created, certificatePath, keyPath);
        var combined = Path.Combine(_root, "combined.pem");
        File.WriteAllText(combined, File.ReadAllText(certificatePath) + File.ReadAllText(keyPath));

        var options = new TendrilOptions { Domain = "chat.example", DataDirectory = DataPath };
        options.Tls.CertificatePath = combined;
        var provider = new CertificateProvider(options);
        using var loaded = provider.GetCertificate();
        Assert.Equal(created.Thumbprint, loaded.Thumbprint);
        Assert.True(loaded.HasPrivateKey);
        Assert.Empty(provider.GetChain());
        Assert.False(Directory.Exists(Path.Combine(DataPath, "certs")));
    }

    [Fact]
    public void CertificateProvider_reports_bad_files_by_path()
    {
        var certificatePath = Path.Combine(_root, "garbage.crt");
        File.WriteAllText(certificatePath, "not a certificate");
        var options = new TendrilOptions { Domain = "example.org", DataDirectory = DataPath };
        options.Tls.CertificatePath = certificatePath;
        options.Tls.KeyPath = Path.Combine(_root, "garbage.key");
        File.WriteAllText(options.Tls.KeyPath, "not a key");
        var e = Assert.Throws<InvalidOperationException>(() => new CertificateProvider(options).GetCertificate());
        Assert.Contains(certificatePath, e.Message, StringComparison.Ordinal);

        options.Tls.CertificatePath = Path.Combine(_root, "absent.crt");
        e = Assert.Throws<InvalidOperationException>(() => new CertificateProvider(options).GetCertificate());
        Assert.Contains("absent.crt", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CertificateProvider_self_signed_has_server_auth_and_both_names()
    {
        using var certificate = CertificateProvider.CreateSelfSigned("example.org");
        var eku = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single();
        Assert.Contains(eku.EnhancedKeyUsages.Cast<Oid>(), oid => oid.Value == "1.3.6.1.5.5.7.3.1");
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["example.org", "*.example.org"], san.EnumerateDnsNames());
        Assert.NotNull(certificate.GetECDsaPublicKey());
    }
}
