using Tendril.Server.Features;
using Tendril.Server.Configuration;
using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Push;

/// <summary>
/// Push notifications (XEP-0357), the user's server side. A client enables pushes with
/// &lt;enable xmlns='urn:xmpp:push:0' jid='APP-SERVER' node='NODE'&gt; (optionally a publish-options form) and
/// disables them with &lt;disable jid [node]/&gt; (without node: every node of that app server). Registrations are kept
/// per account (store <c>push</c>, key "jid\nnode", value the publish-options form or empty) and survive restarts.
/// When a message for the account is stored offline, or queued for a hibernating XEP-0198 session, every registration
/// gets an &lt;iq type='set'&gt; pubsub publish with a <c>urn:xmpp:push:summary</c> form (message-count,
/// last-message-sender, last-message-body only with <c>Tendril:Push:IncludeBody</c>) and the publish-options — sent
/// through the server's <see cref="Routing.IqTracker"/> without holding up the stanza path. At most one push per
/// registration every <c>Tendril:Push:MinIntervalSeconds</c>; an error reply of type cancel removes the registration
/// (§5.2). The server has no federation: an app server on a remote domain is unreachable (the iq bounces, which removes
/// the registration) — only app servers that are local accounts or hosted services work.
/// </summary>
public sealed class PushFeature : IServerFeature
{
    public const string Namespace = "urn:xmpp:push:0";
    public const string SummaryFormType = "urn:xmpp:push:summary";
    public const string PublishOptionsFormType = "http://jabber.org/protocol/pubsub#publish-options";
    internal const string Store = "push";
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    private XmppServer _server = null!;
    private ILogger _logger = null!;
    // Per account (bare JID): messages held since the user was last connected, for message-count.
    private readonly ConcurrentDictionary<Jid, int> _counts = new(BareJidComparer.Instance);
    // Per registration (account, app server, node): when the last push went out (UTC ticks).
    private readonly ConcurrentDictionary<(Jid User, string Key), long> _lastPush = new();

    public void Register(FeatureRegistry registry)
    {
        _server = registry.Server;
        _logger = _server.LoggerFactory.CreateLogger<PushFeature>();
        registry.AddDiscoFeature(Namespace, IqTarget.Account);
        registry.HandleIq("enable", Namespace, EnableAsync, IqTarget.Account);
        registry.HandleIq("disable", Namespace, DisableAsync, IqTarget.Account);
        registry.MessageHeld += OnMessageHeld;
        registry.SessionAvailable += session =>
        {
            _counts.TryRemove(session.Jid.Bare, out _);
            return ValueTask.CompletedTask;
        };
    }

    private static string Key(string jid, string node) => jid + "\n" + node;

    private async ValueTask EnableAsync(IqRequest request)
    {
        if (!request.IsSet || request.From.Bare != request.To) { request.ReplyError(StanzaErrorCondition.NotAllowed); return; }
        var jidText = request.Payload.GetAttribute("jid");
        var node = request.Payload.GetAttribute("node");
        if (!Jid.TryParse(jidText, out var appServer) || string.IsNullOrEmpty(node))
        {
            request.ReplyError(StanzaErrorCondition.BadRequest, "enable needs a valid 'jid' and a 'node'.");
            return;
        }
        var value = "";
        var form = DataForm.Find(request.Payload);
        if (form is not null)
        {
            if (DataForm.ReadSubmit(form, PublishOptionsFormType) is null)
            {
                request.ReplyError(StanzaErrorCondition.BadRequest, "The form must be a submitted publish-options form.");
                return;
            }
            value = form.ToString();
        }
        var user = request.To;
        var data = _server.Storage.AccountData;
        var existing = await data.ListAsync(user.Domain, user.Local!, Store).ConfigureAwait(false);
        var key = Key(appServer.ToString(), node);
        if (existing.Count >= _server.Options.Push.MaxRegistrations && !existing.Any(e => e.Key == key))
        {
            request.ReplyError(StanzaErrorCondition.ResourceConstraint, "Too many push registrations.");
            return;
        }
        if (!await data.PutAsync(user.Domain, user.Local!, Store, key, value).ConfigureAwait(false))
        {
            request.ReplyError(StanzaErrorCondition.ItemNotFound);
            return;
        }
        request.Reply();
    }

    private async ValueTask DisableAsync(IqRequest request)
    {
        if (!request.IsSet || request.From.Bare != request.To) { request.ReplyError(StanzaErrorCondition.NotAllowed); return; }
        if (!Jid.TryParse(request.Payload.GetAttribute("jid"), out var appServer))
        {
            request.ReplyError(StanzaErrorCondition.BadRequest, "disable needs a valid 'jid'.");
            return;
        }
        var node = request.Payload.GetAttribute("node");
        var user = request.To;
        var data = _server.Storage.AccountData;
        var jid = appServer.ToString();
        List<string> keys;
        if (!string.IsNullOrEmpty(node))
        {
            keys = [Key(jid, node)];
        }
        else
        {
            var existing = await data.ListAsync(user.Domain, user.Local!, Store).ConfigureAwait(false);
            keys = existing.Where(e => e.Key.StartsWith(jid + "\n", StringComparison.Ordinal)).Select(e => e.Key).ToList();
        }
        if (keys.Count > 0) await data.DeleteAsync(user.Domain, user.Local!, Store, keys).ConfigureAwait(false);
        request.Reply();
    }

    private void OnMessageHeld(XmlElement message, Jid to)
    {
        if (to.Local is null) return;
        var user = to.Bare;
        var count = _counts.AddOrUpdate(user, 1, (_, c) => c + 1);
        var sender = message.GetAttribute("from");
        var body = _server.Options.Push.IncludeBody ? message.Element("body")?.Text : null;
        // The rate limit is judged at the moment the message was held, not when the registrations have been read.
        var heldAt = _server.Time.GetUtcNow().UtcTicks;
        _ = NotifyAsync(user, count, sender, body, heldAt); // never awaited on the stanza path
    }

    private async Task NotifyAsync(Jid user, int count, string? sender, string? body, long heldAt)
    {
        try
        {
            var registrations = await _server.Storage.AccountData.ListAsync(user.Domain, user.Local!, Store).ConfigureAwait(false);
            foreach (var (key, value) in registrations)
            {
                var split = key.IndexOf('\n', StringComparison.Ordinal);
                if (split < 0 || !Jid.TryParse(key[..split], out var appServer)) continue;
                if (!TakeSlot(user, key, heldAt)) continue;
                _ = PublishAsync(user, key, appServer, key[(split + 1)..], value, count, sender, body);
            }
        }
        catch (Exception e) when (e is Tendril.Storage.StorageException or OperationCanceledException)
        {
            _logger.LogWarning(e, "Push registrations of {User} could not be read", user);
        }
    }

    private bool TakeSlot(Jid user, string key, long now)
    {
        var interval = TimeSpan.FromSeconds(_server.Options.Push.MinIntervalSeconds).Ticks;
        while (true)
        {
            if (!_lastPush.TryGetValue((user, key), out var last))
            {
                if (_lastPush.TryAdd((user, key), now)) return true;
                continue;
            }
            if (now - last < interval) return false;
            if (_lastPush.TryUpdate((user, key), now, last)) return true;
        }
    }

    private async Task PublishAsync(Jid user, string key, Jid appServer, string node, string options, int count, string? sender, string? body)
    {
        var fields = new List<DataForm.Field> { new("message-count", "text-single", [count.ToString(CultureInfo.InvariantCulture)]) };
        if (sender is not null) fields.Add(new("last-message-sender", "jid-single", [sender]));
        if (body is not null) fields.Add(new("last-message-body", "text-single", [body]));
        var iq = new XmlElement("iq", Ns.Client).SetAttribute("type", "set");
        var pubsub = iq.AddElement("pubsub", PubSubNs.PubSub);
        pubsub.AddElement("publish").SetAttribute("node", node)
            .AddElement("item")
            .AddElement("notification", Namespace)
            .Add(DataForm.Build("submit", SummaryFormType, fields));
        if (options.Length > 0 && StoredStanza.Parse(options) is { } form) pubsub.AddElement("publish-options").Add(form);
        XmlElement reply;
        try
        {
            reply = await _server.IqTracker.SendAsync(iq, appServer, s_timeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _logger.LogWarning(e, "Push to {AppServer} for {User} failed", appServer, user);
            return;
        }
        if (reply.GetAttribute("type") != "error") return;
        var errorType = reply.Element("error")?.GetAttribute("type");
        if (errorType != "cancel") return; // wait/modify/auth: keep the registration (XEP-0357 §5.2 leaves it to us)
        _logger.LogInformation("Push to {AppServer} node {Node} for {User} answered a cancel error: registration removed", appServer, node, user);
        _lastPush.TryRemove((user, key), out _);
        try
        {
            await _server.Storage.AccountData.DeleteAsync(user.Domain, user.Local!, Store, [key]).ConfigureAwait(false);
        }
        catch (Tendril.Storage.StorageException e)
        {
            _logger.LogWarning(e, "Push registration of {User} could not be removed", user);
        }
    }
}
