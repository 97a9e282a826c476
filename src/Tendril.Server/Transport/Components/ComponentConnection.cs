using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Streams;
using Tendril.Xml;

namespace Tendril.Server.Transport.Components;

/// <summary>
/// One external component's connection (XEP-0114): the stream header in <c>jabber:component:accept</c> names a
/// configured domain; the server answers with a stream id; the component sends
/// <c>&lt;handshake&gt;hex(SHA-1(id + secret))&lt;/handshake&gt;</c> and gets an empty <c>&lt;handshake/&gt;</c>. Then
/// its stanzas (from its own domain only) are routed like any other, and stanzas for its domain are written to it.
/// One read loop handles input in order; one writer loop drains a queue bounded like a client's
/// (<c>Limits:OutboundQueueStanzas</c>). Inside the server stanzas are <c>jabber:client</c>; on this stream they are
/// read and written in <c>jabber:component:accept</c>.
/// </summary>
internal sealed class ComponentConnection
{
    private readonly ComponentFeature _feature;
    private readonly XmppServer _server;
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly XmlStreamParser _parser;
    private readonly ILogger _logger;
    private readonly string _remote;
    private readonly OutboundQueue<Item> _queue = new(); // the client streams' queue; its bound is _queued against Limits:OutboundQueueStanzas
    private readonly CancellationTokenSource _handshakeDeadline;
    private readonly string _streamId;
    private int _queued;
    private int _closing;
    private bool _headerSent;
    private volatile bool _authenticated;
    private string? _domain;

    private readonly record struct Item(XmlElement? Element, string InheritedNamespace, byte[]? Raw, bool End);

    public ComponentConnection(ComponentFeature feature, XmppServer server, Stream stream, string remote, ILogger logger)
    {
        _feature = feature;
        _server = server;
        _stream = stream;
        _remote = remote;
        _logger = logger;
        _input = PipeReader.Create(stream);
        _output = PipeWriter.Create(stream);
        _parser = new XmlStreamParser(server.ParserOptions);
        Span<byte> id = stackalloc byte[12];
        RandomNumberGenerator.Fill(id);
        _streamId = Convert.ToHexStringLower(id);
        // Until the handshake succeeds the connection holds no domain; it may not hold the socket forever either.
        _handshakeDeadline = new CancellationTokenSource(TimeSpan.FromSeconds(server.Options.Limits.NegotiationTimeoutSeconds), server.Time);
        _handshakeDeadline.Token.Register(() => Close(StreamErrorCondition.ConnectionTimeout, "No handshake in time."));
    }

    private bool IsClosing => Volatile.Read(ref _closing) != 0;

    public async Task RunAsync()
    {
        var writer = WriterLoopAsync();
        try
        {
            await ReadLoopAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            _logger.LogDebug("component connection {Remote} ended: {Reason}", _remote, ex.Message);
        }
        catch (Exception ex)
        {
            // A bug must not take down anything but this connection.
            _logger.LogError(ex, "component connection {Remote} failed", _remote);
            Close(StreamErrorCondition.InternalServerError, null);
        }
        finally
        {
            Close(null, null);
            if (_authenticated && _domain is { } domain) _feature.Release(domain, this);
            await Task.WhenAny(writer, Task.Delay(_server.DrainTimeout)).ConfigureAwait(false);
            _handshakeDeadline.Dispose();
            await _stream.DisposeAsync().ConfigureAwait(false);
            _logger.LogInformation("component {Domain} disconnected ({Remote})", _domain ?? "-", _remote);
        }
    }

    private async Task ReadLoopAsync()
    {
        while (!IsClosing)
        {
            var result = await _input.ReadAsync().ConfigureAwait(false);
            if (result.IsCanceled) break;
            var buffer = result.Buffer;
            try
            {
                while (!IsClosing && _parser.TryRead(ref buffer, out var ev)) await HandleAsync(ev).ConfigureAwait(false);
            }
            catch (XmlParseException ex)
            {
                _input.AdvanceTo(result.Buffer.End);
                Close(C2sStream.MapParseError(ex.Error), ex.Message);
                break;
            }
            _input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted) break;
        }
    }

    private ValueTask HandleAsync(XmlStreamEvent ev)
    {
        switch (ev.Kind)
        {
            case XmlStreamEventKind.StreamStart:
                OnStreamStart(ev.Element!, ev.DefaultNamespace);
                return ValueTask.CompletedTask;
            case XmlStreamEventKind.Stanza:
                return _authenticated ? OnStanzaAsync(ev.Element!) : OnHandshake(ev.Element!);
            default:
                Close(null, null); // </stream:stream>: we close ours too
                return ValueTask.CompletedTask;
        }
    }

    private void OnStreamStart(XmlElement header, string defaultNamespace)
    {
        if (_headerSent)
        {
            Close(StreamErrorCondition.BadFormat, "Only one stream header.");
            return;
        }
        if (header.Namespace != Ns.Streams || header.Name != "stream" || defaultNamespace != ComponentFeature.Namespace)
        {
            Close(StreamErrorCondition.InvalidNamespace, "Expected a jabber:component:accept stream.");
            return;
        }
        var to = header.GetAttribute("to");
        if (to is null || !Jid.TryParse(to, out var jid) || jid is null || !jid.IsDomain || _feature.SecretOf(jid.Domain) is null)
        {
            Close(StreamErrorCondition.HostUnknown, $"No component '{to}' is configured here.");
            return;
        }
        _domain = jid.Domain;
        SendHeader(_domain);
    }

    /// <summary>XEP-0114 §3: the only element before the handshake succeeds is the handshake.</summary>
    private ValueTask OnHandshake(XmlElement element)
    {
        if (_domain is null || !element.Is("handshake", ComponentFeature.Namespace))
        {
            Close(StreamErrorCondition.NotAuthorized, "Handshake first.");
            return ValueTask.CompletedTask;
        }
        var expected = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(_streamId + _feature.SecretOf(_domain))));
        var given = element.Text.Trim().ToLowerInvariant();
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(given)))
        {
            _logger.LogWarning("component handshake for {Domain} from {Remote} failed", _domain, _remote);
            Close(StreamErrorCondition.NotAuthorized, "Wrong handshake.");
            return ValueTask.CompletedTask;
        }
        if (!_feature.TryClaim(_domain, this))
        {
            Close(StreamErrorCondition.Conflict, $"Another connection serves '{_domain}'.");
            return ValueTask.CompletedTask;
        }
        _handshakeDeadline.Dispose(); // the deadline no longer applies (its callback is gone with it)
        _authenticated = true;
        Enqueue(new Item(new XmlElement("handshake", ComponentFeature.Namespace), ComponentFeature.Namespace, null, false));
        _logger.LogInformation("component {Domain} connected from {Remote}", _domain, _remote);
        return ValueTask.CompletedTask;
    }

    private ValueTask OnStanzaAsync(XmlElement stanza)
    {
        if (stanza.Namespace != ComponentFeature.Namespace || stanza.Name is not ("message" or "presence" or "iq"))
        {
            Close(StreamErrorCondition.UnsupportedStanzaType, $"<{stanza.Name} xmlns='{stanza.Namespace}'/> is not a stanza.");
            return ValueTask.CompletedTask;
        }
        ToClientNamespace(stanza);
        // The component speaks for its own domain only (its JIDs: domain, user@domain, with resources).
        if (stanza.GetAttribute("from") is not { } fromText || !Jid.TryParse(fromText, out var from) || from is null || from.Domain != _domain)
        {
            Close(StreamErrorCondition.InvalidFrom, "'from' must be an address at the component's domain.");
            return ValueTask.CompletedTask;
        }
        if (stanza.GetAttribute("to") is not { } toText)
        {
            Close(StreamErrorCondition.ImproperAddressing, "A component's stanzas need a 'to'.");
            return ValueTask.CompletedTask;
        }
        if (!Jid.TryParse(toText, out var to) || to is null)
        {
            _server.Router.BounceError(stanza, StanzaErrorCondition.JidMalformed);
            return ValueTask.CompletedTask;
        }
        if (stanza.Name == "iq" && (stanza.GetAttribute("id") is null || stanza.GetAttribute("type") is not ("get" or "set" or "result" or "error")
            || (stanza.GetAttribute("type") is "get" or "set" && stanza.ElementCount != 1)))
        {
            _server.Router.BounceError(stanza, StanzaErrorCondition.BadRequest);
            return ValueTask.CompletedTask;
        }
        return _server.Router.RouteAsync(stanza, from, to);
    }

    /// <summary>What the component wrote in its stream's namespace is jabber:client inside the server (children that inherited it too).</summary>
    private static void ToClientNamespace(XmlElement element)
    {
        element.Namespace = Ns.Client;
        foreach (var child in element.Elements())
        {
            if (child.Namespace == ComponentFeature.Namespace) ToClientNamespace(child);
        }
    }

    /// <summary>Queues a stanza for the component; false when it is not authenticated, closing, or not reading (queue full).</summary>
    public bool TryEnqueue(XmlElement stanza)
    {
        if (!_authenticated || IsClosing) return false;
        if (Interlocked.Increment(ref _queued) > _server.Options.Limits.OutboundQueueStanzas)
        {
            Interlocked.Decrement(ref _queued);
            return false;
        }
        if (_queue.TryWrite(new Item(stanza, Ns.Client, null, false))) return true;
        Interlocked.Decrement(ref _queued);
        return false;
    }

    private void Enqueue(Item item) => _queue.TryWrite(item);

    private void SendHeader(string from)
    {
        _headerSent = true;
        Enqueue(new Item(null, "", Encoding.UTF8.GetBytes(
            $"<?xml version='1.0'?><stream:stream xmlns:stream='{Ns.Streams}' xmlns='{ComponentFeature.Namespace}' from='{from}' id='{_streamId}'>"), false));
    }

    /// <summary>Closes once: the stream error if any (after a header if none was sent), then the closing tag.</summary>
    public void Close(StreamErrorCondition? condition, string? text)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0) return;
        if (!_headerSent) SendHeader(_domain ?? _server.Domain);
        if (condition is { } c)
        {
            var error = new StreamError(c, text);
            var element = new XmlElement("error", Ns.Streams).Add(error.ToCondition());
            if (error.ToText() is { } t) element.Add(t);
            Enqueue(new Item(element, Ns.Streams, null, false));
            _logger.LogInformation("component connection {Remote} closed: {Error}", _remote, error.ToString());
        }
        Enqueue(new Item(null, "", null, true));
        _queue.Complete();
        try { _input.CancelPendingRead(); } catch (InvalidOperationException) { }
    }

    private async Task WriterLoopAsync()
    {
        var reader = _queue;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    if (item.End)
                    {
                        _output.Write("</stream:stream>"u8);
                        await _output.FlushAsync().ConfigureAwait(false);
                        return;
                    }
                    if (item.Raw is { } raw)
                    {
                        _output.Write(raw);
                        continue;
                    }
                    var element = item.Element!;
                    if (element.Namespace == Ns.Streams)
                    {
                        // <stream:error> with the prefix the header declared.
                        _output.Write("<stream:error>"u8);
                        foreach (var child in element.Elements()) XmlWriter.Write(_output, child, ComponentFeature.Namespace);
                        _output.Write("</stream:error>"u8);
                        continue;
                    }
                    if (item.InheritedNamespace == Ns.Client) Interlocked.Decrement(ref _queued);
                    // jabber:client elements written as if inherited: on this stream they read as jabber:component:accept.
                    XmlWriter.Write(_output, element, item.InheritedNamespace);
                }
                var flush = await _output.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled) break;
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            Close(null, null);
        }
    }
}
