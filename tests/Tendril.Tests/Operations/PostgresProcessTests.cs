using Tendril.Tests.Infrastructure;
using Tendril.Tests.Support;
using Tendril.Xml;

namespace Tendril.Tests.Operations;

/// <summary>
/// <c>tendril serve</c> and the user commands on PostgreSQL (<c>Tendril:Storage:Provider = postgres</c>), as an operator
/// runs them: accounts added with the CLI, a client logs in and edits its roster, the server restarts, the roster is
/// still there.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresProcessTests(PostgresFixture postgres)
{
    private const string Roster = "jabber:iq:roster";

    [Fact]
    public async Task Serve_on_postgres_keeps_accounts_and_rosters_across_a_restart()
    {
        var connectionString = await postgres.Server.CreateDatabaseAsync("proc");
        void OnPostgres(Dictionary<string, object> section) =>
            section["Storage"] = new Dictionary<string, object> { ["Provider"] = "postgres", ["PostgresConnectionString"] = connectionString };

        await using (var first = await TendrilProcess.StartAsync([("alice@localhost", "alice-secret"), ("bob@localhost", "bob-secret")], OnPostgres))
        {
            Assert.Contains("storage PostgreSQL", first.Log, StringComparison.Ordinal);
            await using var alice = await first.ConnectAsync("alice@localhost", "alice-secret");
            var set = new XmlElement("iq").SetAttribute("type", "set");
            set.AddElement("query", Roster).AddElement("item").SetAttribute("jid", "bob@localhost").SetAttribute("name", "Bob")
                .AddElement("group").Add("Friends");
            await alice.SendIqAsync(set, TimeSpan.FromSeconds(30));
            Assert.Equal(0, await first.StopAsync());
        }

        // The same database, a new process and data folder: everything lives in PostgreSQL.
        await using var second = await TendrilProcess.StartAsync([], OnPostgres);
        var (code, stdout, stderr) = await TendrilProcess.RunCliAsync("", "users", "--config", second.ConfigPath);
        Assert.True(code == 0, stderr);
        Assert.Equal(["alice@localhost", "bob@localhost"], stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        await using var again = await second.ConnectAsync("alice@localhost", "alice-secret");
        var get = new XmlElement("iq").SetAttribute("type", "get");
        get.AddElement("query", Roster);
        var result = await again.SendIqAsync(get, TimeSpan.FromSeconds(30));
        var items = new List<XmlElement>();
        foreach (var i in result.Element("query", Roster)!.Elements("item", Roster)) items.Add(i);
        var item = Assert.Single(items);
        Assert.Equal("bob@localhost", item.GetAttribute("jid"));
        Assert.Equal("Bob", item.GetAttribute("name"));
        Assert.Equal("Friends", item.Element("group", Roster)!.Text);

        // A wrong password is refused against the stored credentials (SCRAM over PostgreSQL).
        await Assert.ThrowsAnyAsync<Exception>(async () => await second.ConnectAsync("bob@localhost", "wrong"));
    }

    [Fact]
    public async Task Serve_on_an_unreachable_postgres_exits_with_a_clear_error()
    {
        // Nothing listens on port 1: serve and the user commands report it and exit 1 instead of hanging or crashing.
        var unreachable = await WriteConfigAsync("Host=127.0.0.1;Port=1;Username=x;Password=hunter2;Timeout=5");
        var malformed = await WriteConfigAsync("NoSuchKeyword=1");
        try
        {
            foreach (var command in new[] { "serve", "users" })
            {
                var (code, _, stderr) = await TendrilProcess.RunCliAsync("", command, "--config", unreachable);
                Assert.True(code == 1, $"{command}: exit {code}: {stderr}");
                Assert.Contains("PostgreSQL", stderr, StringComparison.Ordinal);
                Assert.DoesNotContain("hunter2", stderr, StringComparison.Ordinal);
                (code, _, stderr) = await TendrilProcess.RunCliAsync("", command, "--config", malformed);
                Assert.True(code == 1, $"{command}: exit {code}: {stderr}");
                Assert.Contains("PostgresConnectionString", stderr, StringComparison.Ordinal);
            }
        }
        finally
        {
            foreach (var path in new[] { unreachable, malformed })
            {
                File.Delete(path);
                if (Directory.Exists(path + ".data")) Directory.Delete(path + ".data", recursive: true);
            }
        }
    }

    [Fact]
    public async Task The_password_setting_is_merged_into_the_connection_string_given_to_init()
    {
        // A cluster of its own that checks passwords over TCP (the shared one trusts every connection).
        await using var pg = await PostgresServer.StartNewAsync();
        await PostgresServer.ScalarAsync(pg.ConnectionString(), "CREATE ROLE tendril LOGIN PASSWORD 'pg-Secret-1'");
        await PostgresServer.ScalarAsync(pg.ConnectionString(), "CREATE DATABASE tendril OWNER tendril ENCODING 'UTF8'");
        await File.WriteAllTextAsync(Path.Combine(pg.DataDirectory, "pg_hba.conf"), "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n");
        await PostgresServer.ScalarAsync(pg.ConnectionString(), "SELECT pg_reload_conf()");

        var directory = Path.Combine(Path.GetTempPath(), "tendril-pgpw-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            var config = Path.Combine(directory, "tendril.json");
            // As the README has it: the connection string (with a non-default Port) to init, the password apart.
            var (code, stdout, stderr) = await TendrilProcess.RunCliAsync("", "init", "localhost", "--data", Path.Combine(directory, "data"), "--config", config,
                "--postgres", $"Host=127.0.0.1;Port={pg.Port};Database=tendril;Username=tendril;Timeout=10");
            Assert.True(code == 0, stderr);
            Assert.Contains("Tendril__Storage__PostgresPassword", stdout, StringComparison.Ordinal);

            // Without the password PostgreSQL refuses; the error names PostgreSQL.
            (code, _, stderr) = await TendrilProcess.RunCliAsync("pw\n", "adduser", "alice@localhost", "--config", config);
            Assert.True(code == 1, $"exit {code}: {stderr}");
            Assert.Contains("PostgreSQL", stderr, StringComparison.Ordinal);

            // With it (alone, in the environment) the rest of the connection string, Port included, is kept.
            var env = new Dictionary<string, string> { ["Tendril__Storage__PostgresPassword"] = "pg-Secret-1" };
            (code, _, stderr) = await TendrilProcess.RunCliAsync(env, "pw\n", "adduser", "alice@localhost", "--config", config);
            Assert.True(code == 0, stderr);
            (code, stdout, stderr) = await TendrilProcess.RunCliAsync(env, "", "users", "--config", config);
            Assert.True(code == 0, stderr);
            Assert.Equal("alice@localhost", stdout.Trim());
            Assert.DoesNotContain("pg-Secret-1", stdout + stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<string> WriteConfigAsync(string connectionString)
    {
        var path = Path.Combine(Path.GetTempPath(), "tendril-pgcfg-" + Guid.NewGuid().ToString("N") + ".json");
        await File.WriteAllTextAsync(path, System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["Tendril"] = new Dictionary<string, object>
            {
                ["Domain"] = "localhost",
                ["DataDirectory"] = path + ".data",
                ["C2s"] = new Dictionary<string, object> { ["Address"] = "loopback", ["Port"] = 0, ["DirectTlsPort"] = 0 },
                ["Http"] = new Dictionary<string, object> { ["Enabled"] = false },
                ["Storage"] = new Dictionary<string, object> { ["Provider"] = "postgres", ["PostgresConnectionString"] = connectionString },
            },
        }));
        return path;
    }
}
