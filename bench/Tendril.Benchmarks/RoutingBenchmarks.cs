using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using Tendril.Protocol;
using Tendril.Server;
using Tendril.Server.Configuration;
using Tendril.Server.Routing;
using Tendril.Server.Streams;
using Tendril.Server.Streams.States;
using Tendril.Server.Tls;
using Tendril.Server.Transport;
using Tendril.Storage.Sqlite;
using Tendril.Xml;

namespace Tendril.Benchmarks;

/// <summary>
/// Routing a chat message between two local sessions, per stanza (<c>OperationsPerInvoke</c>):
/// <list type="bullet">
/// <item><see cref="Parse"/> — the parser alone: the stanza's own parse tree (the baseline);</item>
/// <item><see cref="ParseAndRoute"/> — parse, then the sender stream's Ready state (checks, 'from' stamping, 'to'
/// parsing) and the router (RFC 6121 §8.5 lookup) up to the recipient's outbound queue, which is then drained;</item>
/// <item><see cref="ParseRouteAndSerialize"/> — the same, plus the recipient writer's serialization into a reused
/// buffer (what the writer loop does before the transport).</item>
/// </list>
/// "Allocated" of ParseAndRoute minus Parse is what routing adds per message. The stanza is what tendril-load's chat
/// scenario sends (addressed to a full JID, a ~32-byte body).
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("Routing")]
public class RoutingBenchmarks
{
    private const int Messages = 1000;

    private readonly XmlStreamParser _parser = new();
    private readonly ArrayBufferWriter<byte> _output = new(64 * 1024);
    private string _directory = "";
    private SqliteStorage? _storage;
    private XmppServer? _server;
    private C2sStream _sender = null!;
    private C2sStream _recipient = null!;
    private byte[] _data = [];
    private int _headerLength;

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "tendril-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        var options = new TendrilOptions { Domain = "localhost", DataDirectory = _directory };
        options.C2s.Address = "loopback";
        options.Limits.OutboundQueueStanzas = Messages * 2;
        _storage = new SqliteStorage(Path.Combine(_directory, "tendril.db"));
        _storage.InitializeAsync().AsTask().GetAwaiter().GetResult();
        _server = new XmppServer(options, _storage, CertificateProvider.CreateSelfSigned("localhost"), []);
        _sender = Bind("load0");
        _recipient = Bind("load1");

        const string header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
        var sb = new StringBuilder(header);
        for (var i = 0; i < Messages; i++)
        {
            sb.Append("<message to='load1@localhost/load' type='chat' id='m").Append(i)
              .Append("'><body>T1234567890123 0123456789abcdef0123456789abcdef</body></message>");
        }
        _data = Encoding.UTF8.GetBytes(sb.ToString());
        _headerLength = Encoding.UTF8.GetByteCount(header);
    }

    private C2sStream Bind(string user)
    {
        var (_, serverEnd) = InMemoryStream.CreatePair();
        var stream = new C2sStream(_server!, new StreamTransport(serverEnd, "bench", "bench", isSecure: true), directTls: false, "bench");
        var session = new C2sSession(stream, Jid.Create(user, "localhost", "load"), DateTimeOffset.UtcNow) { IsAvailable = true };
        stream.User = session.Jid.Bare;
        stream.Session = session;
        _server!.Sessions.Bind(session);
        return stream;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _server?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _storage?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    /// <summary>The parse tree alone: the allocation budget routing is measured against.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    public int Parse()
    {
        var seq = Start();
        var count = 0;
        while (_parser.TryRead(ref seq, out _)) count++;
        return count;
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public int ParseAndRoute() => Route(null);

    [Benchmark(OperationsPerInvoke = Messages)]
    public int ParseRouteAndSerialize()
    {
        _output.ResetWrittenCount();
        return Route(_output);
    }

    private int Route(ArrayBufferWriter<byte>? output)
    {
        var seq = Start();
        while (_parser.TryRead(ref seq, out var ev))
        {
            var pending = ReadyState.Instance.OnElementAsync(_sender, ev.Element!);
            if (!pending.IsCompletedSuccessfully) pending.AsTask().GetAwaiter().GetResult();
        }
        var delivered = _recipient.DrainOutbound(output);
        if (delivered != Messages) throw new InvalidOperationException($"{delivered} of {Messages} messages were routed.");
        return delivered;
    }

    /// <summary>Resets the parser and consumes the stream header, returning the stanzas.</summary>
    private ReadOnlySequence<byte> Start()
    {
        _parser.Reset();
        var seq = new ReadOnlySequence<byte>(_data);
        if (!_parser.TryRead(ref seq, out var header) || header.Kind != XmlStreamEventKind.StreamStart) throw new InvalidOperationException("no header");
        return seq;
    }
}
