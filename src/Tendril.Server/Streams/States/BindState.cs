using System.Security.Cryptography;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Logging;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Streams.States;

/// <summary>Authenticated, waiting for resource binding (RFC 6120 §7). Nothing else is processed before it.</summary>
internal sealed class BindState : C2sState
{
    public static BindState Instance { get; } = new();

    public override string Name => "Bind";

    public override async ValueTask OnElementAsync(C2sStream stream, XmlElement element)
    {
        if (element.Namespace != Ns.Client && stream.Server.Features.TryGetStreamElementHandler(element.Namespace, Features.StreamPhase.Authenticated, out var handler))
        {
            await handler(stream, element).ConfigureAwait(false);
            return;
        }
        if (element.Name != "iq" || element.Namespace != Ns.Client)
        {
            await NotAuthorizedAsync(stream, element).ConfigureAwait(false);
            return;
        }
        var bind = element.Element("bind", Ns.Bind);
        if (bind is null)
        {
            await NotAuthorizedAsync(stream, element).ConfigureAwait(false);
            return;
        }
        var id = element.GetAttribute("id");
        if (element.GetAttribute("type") != "set" || id is null || element.ElementCount != 1)
        {
            await stream.SendAsync(StanzaError.Of(StanzaErrorCondition.BadRequest).ToReply(element)).ConfigureAwait(false);
            return;
        }
        var requested = bind.Element("resource", Ns.Bind)?.Text.Trim();
        string resource;
        if (string.IsNullOrEmpty(requested))
        {
            resource = GenerateResource();
        }
        else if (Jid.IsValidResource(requested))
        {
            resource = requested;
        }
        else
        {
            // §7.7.2.1: a resource that violates the resourcepart rules.
            await stream.SendAsync(StanzaError.Of(StanzaErrorCondition.BadRequest, "Invalid resource.").ToReply(element)).ConfigureAwait(false);
            return;
        }
        Jid jid;
        try
        {
            jid = stream.User!.WithResource(resource);
        }
        catch (FormatException)
        {
            await stream.SendAsync(StanzaError.Of(StanzaErrorCondition.BadRequest, "Invalid resource.").ToReply(element)).ConfigureAwait(false);
            return;
        }

        var server = stream.Server;
        // RFC 6120 §7.6.2.1: an account at its limit of simultaneous resources gets resource-constraint (issue 19:
        // one account must not fill the server with sessions). Replacing a resource of the same name is not a new one.
        var max = server.Options.Limits.MaxSessionsPerAccount;
        if (max > 0)
        {
            var resources = server.Delivery.Of(jid.Bare);
            if (resources.Count >= max && server.Delivery.Find(jid) is null)
            {
                await stream.SendAsync(new StanzaError(StanzaErrorCondition.ResourceConstraint, StanzaErrorType.Wait,
                    $"This account has {resources.Count} sessions, the most allowed.").ToReply(element)).ConfigureAwait(false);
                return;
            }
        }
        var session = new C2sSession(stream, jid, server.Time.GetUtcNow());
        var replaced = server.Sessions.Bind(session);
        if (replaced is not null) await CloseReplacedAsync(server, replaced).ConfigureAwait(false);
        // The cluster's routing table learns the binding (and an older one on another node is replaced there).
        if (server.Cluster.IsClustered) await server.Cluster.SessionBoundAsync(session).ConfigureAwait(false);
        stream.Session = session;
        stream.State = ReadyState.Instance;
        ServerLog.Bound(server.StreamLogger, stream.Id, session.JidString);

        var result = new XmlElement("iq", Ns.Client).SetAttribute("type", "result").SetAttribute("id", id);
        result.AddElement("bind", Ns.Bind).AddElement("jid").Add(session.JidString);
        await stream.SendAsync(result).ConfigureAwait(false);
        await server.Features.RaiseSessionBoundAsync(session).ConfigureAwait(false);
    }

    /// <summary>§7.7.2.2 "override": the new session wins; the old one is told why and its presence retracted.</summary>
    internal static async ValueTask CloseReplacedAsync(XmppServer server, C2sSession replaced)
    {
        replaced.IsClosed = true;
        await server.StreamManagement.ReplaceAsync(replaced).ConfigureAwait(false);
        await PresenceBroadcaster.BroadcastUnavailableOnCloseAsync(server, replaced).ConfigureAwait(false);
        await replaced.Stream.CloseAsync(new StreamError(StreamErrorCondition.Conflict, "Replaced by a new connection."), "replaced by a new session").ConfigureAwait(false);
    }

    /// <summary>Server-generated resources are random and unguessable (RFC 6120 §7.6.2.1, §13.10).</summary>
    private static string GenerateResource()
    {
        Span<byte> bytes = stackalloc byte[9];
        RandomNumberGenerator.Fill(bytes);
        return "tendril-" + Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');
    }
}
