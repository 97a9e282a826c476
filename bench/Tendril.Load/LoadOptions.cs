using System.Globalization;

namespace Tendril.Load;

public enum Scenario { Idle, Chat, Presence, Pubsub }

/// <summary>Command-line options of tendril-load (parsed by hand: no dependency, fast start).</summary>
public sealed class LoadOptions
{
    public string Domain { get; private set; } = "";
    public string? Server { get; private set; }
    public int? Port { get; private set; }

    /// <summary>--second-server HOST:PORT: odd connections (the second user of each chat pair) log in there (a cluster node).</summary>
    public string? SecondServer { get; private set; }
    public int? SecondPort { get; private set; }

    /// <summary>The endpoint connection <paramref name="index"/> logs in to.</summary>
    public (string? Host, int? Port) EndPointFor(int index) => SecondServer is not null && index % 2 == 1 ? (SecondServer, SecondPort) : (Server, Port);
    public bool DirectTls { get; private set; }
    public int Users { get; private set; } = 100;
    public int FirstUser { get; private set; }
    public int Accounts { get; private set; }
    public string UserPattern { get; private set; } = "load{0}";
    public string PasswordPattern { get; private set; } = "password";
    public string? Resource { get; private set; } = "load";
    public double ConnectRate { get; private set; } = 200;
    public int MaxPendingLogins { get; private set; } = 200;
    public Scenario Scenario { get; private set; } = Scenario.Idle;
    public double Duration { get; private set; } = 30;
    public int Pairs { get; private set; } = -1;
    public double Rate { get; private set; } = -1;
    public int Window { get; private set; } = 16;
    public int BodySize { get; private set; } = 32;
    public string? PubsubService { get; private set; }
    public string PubsubNode { get; private set; } = "tendril-load";
    public int? Pid { get; private set; }
    public string? JsonPath { get; private set; }
    public string? Mechanism { get; private set; }
    public bool VerifyCertificate { get; private set; }
    public double ConnectTimeout { get; private set; } = 30;
    public bool Quiet { get; private set; }
    public IReadOnlyList<System.Net.IPAddress> SourceAddresses { get; private set; } = [];

    /// <summary>The local address of connection i (round robin over --source-addresses), or null.</summary>
    public System.Net.IPAddress? SourceAddressFor(int index) => SourceAddresses.Count == 0 ? null : SourceAddresses[index % SourceAddresses.Count];

    /// <summary>Parses "A", "A,B,C" or an IPv4 range "A-B" (last octet or full address), e.g. 127.0.0.2-127.0.0.9.</summary>
    public static List<System.Net.IPAddress> ParseAddresses(string text)
    {
        var result = new List<System.Net.IPAddress>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                result.Add(System.Net.IPAddress.Parse(part));
                continue;
            }
            var first = System.Net.IPAddress.Parse(part[..dash]);
            var lastText = part[(dash + 1)..];
            var firstBytes = first.GetAddressBytes();
            if (firstBytes.Length != 4) throw new FormatException($"address ranges are IPv4 only: '{part}'");
            var lastBytes = lastText.Contains('.', StringComparison.Ordinal)
                ? System.Net.IPAddress.Parse(lastText).GetAddressBytes()
                : [firstBytes[0], firstBytes[1], firstBytes[2], byte.Parse(lastText, CultureInfo.InvariantCulture)];
            var from = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(firstBytes);
            var to = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(lastBytes);
            if (to < from || to - from > 65535) throw new FormatException($"bad address range '{part}'");
            for (var a = from; a <= to; a++)
            {
                var bytes = new byte[4];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, a);
                result.Add(new System.Net.IPAddress(bytes));
            }
        }
        if (result.Count == 0) throw new FormatException("no source address given");
        return result;
    }

    /// <summary>Pairs actually used by the chat scenario (default: all users, paired up).</summary>
    public int EffectivePairs => Pairs >= 0 ? Math.Min(Pairs, Users / 2) : Users / 2;

    /// <summary>The scenario's rate: chat msgs/s per pair, presence updates/s per user, pubsub items/s. 0 = as fast as the window allows.</summary>
    public double EffectiveRate => Rate >= 0 ? Rate : Scenario switch { Scenario.Chat => 10, Scenario.Presence => 1, Scenario.Pubsub => 10, _ => 0 };

    public string EffectivePubsubService => PubsubService ?? "pubsub." + Domain;

    /// <summary>Accounts actually used: connection i logs in as account i mod this.</summary>
    public int EffectiveAccounts => Accounts > 0 ? Math.Min(Accounts, Users) : Users;

    public string UserName(int index) => string.Format(CultureInfo.InvariantCulture, UserPattern, (index % EffectiveAccounts) + FirstUser);

    public string Password(int index) => string.Format(CultureInfo.InvariantCulture, PasswordPattern, (index % EffectiveAccounts) + FirstUser);

    /// <summary>The resource of connection i: unique per connection when accounts are shared.</summary>
    public string? ResourceFor(int index) =>
        Resource is null ? null : EffectiveAccounts < Users ? Resource + index.ToString(CultureInfo.InvariantCulture) : Resource;

    public const string Usage = """
        tendril-load — XMPP load generator (works against any XMPP server)

        Usage: tendril-load --domain DOMAIN [options]

        Connection
          --server HOST             host to connect to (default: the domain; no SRV lookup)
          --second-server H:P       odd connections (every chat pair's second user) log in to this endpoint
                                    instead: with a second cluster node there, all chat traffic crosses nodes
          --port N                  port (default 5222, or 5223 with --direct-tls)
          --domain DOMAIN           XMPP domain of the accounts (required)
          --direct-tls              TLS from the first byte (XEP-0368) instead of STARTTLS
          --mechanism M             force SCRAM-SHA-256 | SCRAM-SHA-1 | PLAIN (default: best offered)
          --verify-cert             validate the server certificate (default: accept any, for test servers)
          --connect-timeout S       per-login time limit in seconds (default 30)
          --source-addresses LIST   bind client sockets to these local addresses, round robin (e.g.
                                    127.0.0.2-127.0.0.9 or 127.0.0.2,127.0.0.3): one source address
                                    holds only ~28k connections to one server port

        Accounts (must exist; see docs/load-tool.md)
          --users N                 connections to open (default 100)
          --first-user N            first account index (default 0)
          --accounts M              use only M accounts: connection i logs in as account i mod M with
                                    resource R<i> (many connections from few accounts; default: one each)
          --user-pattern P          username pattern, {0} = index (default load{0})
          --password P              password pattern, {0} = index (default password)
          --resource R              resource to bind (default load; "" = server-generated)

        Ramp-up
          --connect-rate R          new logins per second (default 200; 0 = no pacing)
          --max-pending N           logins in flight at once (default 200)

        Scenario
          --scenario S              idle | chat | presence | pubsub (default idle)
          --duration S              seconds to run the scenario once everyone is connected (default 30)
          --pairs K                 chat: pairs of users messaging each other (default users/2)
          --rate R                  chat: msgs/s per pair (split over both directions, default 10);
                                    presence: updates/s per user (default 1); pubsub: items/s (default 10);
                                    0 = as fast as possible with --window outstanding
          --window W                outstanding messages per sender when --rate 0 (default 16)
          --body-size B             approximate message body bytes (default 32)
          --pubsub-service JID      pubsub: service (default pubsub.DOMAIN)
          --pubsub-node NODE        pubsub: node (default tendril-load); user 0 publishes, the rest subscribe

        Output
          --pid PID                 sample this server process's RSS and CPU time from /proc
          --json PATH               also write the results as JSON
          --quiet                   no progress line
        """;

    /// <summary>Parses the arguments; returns null and prints why when they are wrong.</summary>
    public static LoadOptions? Parse(string[] args, TextWriter error)
    {
        var o = new LoadOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string? inlineValue = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inlineValue = arg[(eq + 1)..];
                arg = arg[..eq];
            }
            string Value()
            {
                if (inlineValue is not null) return inlineValue;
                if (i + 1 >= args.Length) throw new FormatException($"{arg} needs a value");
                return args[++i];
            }
            int Int() => int.Parse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture);
            double Dbl() => double.Parse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture);
            try
            {
                switch (arg)
                {
                    case "--domain": o.Domain = Value(); break;
                    case "--server": o.Server = Value(); break;
                    case "--port": o.Port = Int(); break;
                    case "--second-server":
                        var endPoint = Value();
                        var colon = endPoint.LastIndexOf(':');
                        if (colon <= 0) throw new FormatException("--second-server needs HOST:PORT");
                        o.SecondServer = endPoint[..colon];
                        o.SecondPort = int.Parse(endPoint[(colon + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture);
                        break;
                    case "--direct-tls": o.DirectTls = true; break;
                    case "--users": o.Users = Int(); break;
                    case "--first-user": o.FirstUser = Int(); break;
                    case "--accounts": o.Accounts = Int(); break;
                    case "--user-pattern": o.UserPattern = Value(); break;
                    case "--password": o.PasswordPattern = Value(); break;
                    case "--resource": o.Resource = Value() is { Length: > 0 } r ? r : null; break;
                    case "--connect-rate": o.ConnectRate = Dbl(); break;
                    case "--max-pending": o.MaxPendingLogins = Int(); break;
                    case "--scenario":
                        o.Scenario = Value().ToLowerInvariant() switch
                        {
                            "idle" => Scenario.Idle,
                            "chat" => Scenario.Chat,
                            "presence" => Scenario.Presence,
                            "pubsub" => Scenario.Pubsub,
                            var s => throw new FormatException($"unknown scenario '{s}'"),
                        };
                        break;
                    case "--duration": o.Duration = Dbl(); break;
                    case "--pairs": o.Pairs = Int(); break;
                    case "--rate": o.Rate = Dbl(); break;
                    case "--window": o.Window = Int(); break;
                    case "--body-size": o.BodySize = Int(); break;
                    case "--pubsub-service": o.PubsubService = Value(); break;
                    case "--pubsub-node": o.PubsubNode = Value(); break;
                    case "--pid": o.Pid = Int(); break;
                    case "--json": o.JsonPath = Value(); break;
                    case "--mechanism": o.Mechanism = Value().ToUpperInvariant(); break;
                    case "--verify-cert": o.VerifyCertificate = true; break;
                    case "--connect-timeout": o.ConnectTimeout = Dbl(); break;
                    case "--quiet": o.Quiet = true; break;
                    case "--source-addresses": o.SourceAddresses = ParseAddresses(Value()); break;
                    case "-h" or "--help":
                        error.WriteLine(Usage);
                        return null;
                    default:
                        throw new FormatException($"unknown option '{arg}'");
                }
            }
            catch (FormatException e)
            {
                error.WriteLine($"tendril-load: {e.Message}. Run with --help for usage.");
                return null;
            }
        }
        var problems = new List<string>();
        if (o.Domain.Length == 0) problems.Add("--domain is required");
        if (o.Users < 1) problems.Add("--users must be at least 1");
        if (o.Accounts < 0) problems.Add("--accounts must be >= 0");
        if (o.Accounts > 0 && o.Accounts < o.Users && o.Resource is null) problems.Add("--accounts below --users needs a --resource prefix");
        if (o.ConnectRate < 0) problems.Add("--connect-rate must be >= 0");
        if (o.MaxPendingLogins < 1) problems.Add("--max-pending must be at least 1");
        if (o.Duration <= 0) problems.Add("--duration must be positive");
        if (o.Window < 1) problems.Add("--window must be at least 1");
        if (o.Scenario == Scenario.Chat && o.EffectivePairs < 1) problems.Add("chat needs at least 2 users");
        if (o.Scenario == Scenario.Pubsub && o.Users < 2) problems.Add("pubsub needs at least 2 users (1 publisher, subscribers)");
        if (o.Mechanism is not (null or "SCRAM-SHA-256" or "SCRAM-SHA-1" or "PLAIN")) problems.Add("--mechanism must be SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN");
        if (!o.UserPattern.Contains("{0}", StringComparison.Ordinal) && o.Users > 1) problems.Add("--user-pattern must contain {0}");
        if (problems.Count > 0)
        {
            foreach (var p in problems) error.WriteLine("tendril-load: " + p);
            return null;
        }
        return o;
    }
}
