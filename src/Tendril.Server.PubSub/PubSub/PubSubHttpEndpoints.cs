using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Hosting;
using Tendril.Xml;

namespace Tendril.Server.Features.PubSub;

/// <summary>
/// The HTTP publish API on the server's HTTP port, for programs that do not speak XMPP (docs/pubsub.md):
/// <list type="bullet">
/// <item><c>POST /api/pubsub/{service}/{node}[?id=ITEM]</c> — body: one XML element, or JSON <c>{"payload": "&lt;x/&gt;", "id": "…"}</c>; 201 with the item id.</item>
/// <item><c>GET /api/pubsub/{service}</c> — the nodes (JSON).</item>
/// <item><c>GET /api/pubsub/{service}/{node}/items[?max=N]</c> — items, newest first: JSON, or XML with <c>Accept: application/xml</c>.</item>
/// </list>
/// Every call needs HTTP Basic credentials of an account (<c>user</c> or <c>user@domain</c>); the caller acts as that
/// account's bare JID, with the same permission checks as over XMPP.
/// </summary>
public sealed class PubSubHttpEndpoints(XmppServer server, PubSubFeature feature) : IHttpEndpoints
{
    public void Map(IEndpointRouteBuilder endpoints)
    {
        feature.Attach(server);
        endpoints.MapPost("/api/pubsub/{service}/{node}", PublishAsync);
        endpoints.MapGet("/api/pubsub/{service}", ListNodesAsync);
        endpoints.MapGet("/api/pubsub/{service}/{node}/items", ItemsAsync);
    }

    private async Task<IResult> PublishAsync(HttpContext context, string service, string node)
    {
        var (user, failure) = await AuthenticateAsync(context).ConfigureAwait(false);
        if (user is null) return failure!;
        if (!feature.Services.TryGetValue(service, out var ps)) return Problem(404, $"No pubsub service '{service}'.");

        var limit = ps.Policy.MaxPayloadBytes;
        if (context.Request.ContentLength > limit * 2L) return Problem(413, $"The payload is larger than {limit} bytes.");
        string body;
        using (var reader = new StreamReader(context.Request.Body, Encoding.UTF8))
        {
            var buffer = new char[limit * 2 + 1];
            var read = 0;
            int n;
            while (read < buffer.Length && (n = await reader.ReadAsync(buffer.AsMemory(read)).ConfigureAwait(false)) > 0) read += n;
            if (read == buffer.Length) return Problem(413, $"The payload is larger than {limit} bytes.");
            body = new string(buffer, 0, read);
        }
        string? itemId = context.Request.Query["id"];
        string xml = body;
        var contentType = context.Request.ContentType ?? "";
        if (contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) || body.TrimStart().StartsWith('{'))
        {
            try
            {
                using var json = JsonDocument.Parse(body);
                if (!json.RootElement.TryGetProperty("payload", out var p) || p.ValueKind != JsonValueKind.String)
                    return Problem(400, "The JSON body needs a string property 'payload' holding one XML element.");
                xml = p.GetString()!;
                if (json.RootElement.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String) itemId = id.GetString();
            }
            catch (JsonException e)
            {
                return Problem(400, "Malformed JSON: " + e.Message);
            }
        }
        XmlElement payload;
        try
        {
            payload = PayloadXml.Parse(xml);
        }
        catch (FormatException e)
        {
            return Problem(400, e.Message);
        }
        try
        {
            var id = await ps.PublishAsync(node, user, itemId, payload).ConfigureAwait(false);
            return Results.Json(new { id, node, service }, statusCode: 201);
        }
        catch (PubSubException e)
        {
            return FromPubSub(e);
        }
    }

    private async Task<IResult> ListNodesAsync(HttpContext context, string service)
    {
        var (user, failure) = await AuthenticateAsync(context).ConfigureAwait(false);
        if (user is null) return failure!;
        if (!feature.Services.TryGetValue(service, out var ps)) return Problem(404, $"No pubsub service '{service}'.");
        await ps.EnsureLoadedAsync().ConfigureAwait(false);
        // Only the nodes the caller may discover (XEP-0060 §4.5), as disco#items lists them: a whitelist node's
        // existence, subscribers and last item are not shown to non-members (issue 19).
        var nodes = (await ps.VisibleNodesAsync(user).ConfigureAwait(false)).Select(n => new
        {
            node = n.Id,
            title = n.Config.Title,
            access_model = NodeConfig.Name(n.Config.AccessModel),
            publish_model = NodeConfig.Name(n.Config.PublishModel),
            subscribers = n.Subscriptions.Count(s => s.IsActive),
            last_item = n.LastItem?.Id,
        });
        return Results.Json(new { service, nodes });
    }

    private async Task<IResult> ItemsAsync(HttpContext context, string service, string node)
    {
        var (user, failure) = await AuthenticateAsync(context).ConfigureAwait(false);
        if (user is null) return failure!;
        if (!feature.Services.TryGetValue(service, out var ps)) return Problem(404, $"No pubsub service '{service}'.");
        int? max = null;
        if (context.Request.Query["max"] is { Count: > 0 } m)
        {
            if (!int.TryParse(m[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n < 1)
                return Problem(400, "max must be a positive number.");
            max = n;
        }
        try
        {
            var (pubSubNode, items) = await ps.GetItemsAsync(node, user, max).ConfigureAwait(false);
            var accept = context.Request.Headers.Accept.ToString();
            if (accept.Contains("xml", StringComparison.OrdinalIgnoreCase))
            {
                var e = new XmlElement("items", PubSubNs.PubSub).SetAttribute("node", node);
                foreach (var r in items) e.Add(PubSubService.ItemElement(r, includePayload: true, pubSubNode));
                return Results.Text(XmlWriter.ToXmlString(e), "application/xml", Encoding.UTF8);
            }
            return Results.Json(new
            {
                service,
                node,
                items = items.Select(i => new { id = i.ItemId, publisher = i.Publisher, published = i.PublishedAt, payload = i.Payload }),
            });
        }
        catch (PubSubException e)
        {
            return FromPubSub(e);
        }
    }

    /// <summary>
    /// HTTP Basic with the account's XMPP password, over HTTPS only (or a trusted loopback proxy), throttled per source and
    /// account like SASL (<see cref="Security.HttpPasswords"/>).
    /// </summary>
    private async Task<(Jid? User, IResult? Failure)> AuthenticateAsync(HttpContext context)
    {
        if (!Security.HttpPasswords.MayCarryPassword(server, context))
            return (null, Problem(StatusCodes.Status403Forbidden, Security.HttpPasswords.InsecureMessage(server, context)));
        var header = context.Request.Headers.Authorization.ToString();
        if (!AuthenticationHeaderValue.TryParse(header, out var auth) || !string.Equals(auth.Scheme, "Basic", StringComparison.OrdinalIgnoreCase) || auth.Parameter is null)
            return (null, Unauthorized("Credentials required (HTTP Basic, your XMPP account)."));
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth.Parameter));
        }
        catch (FormatException)
        {
            return (null, Unauthorized("Malformed Basic credentials."));
        }
        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0) return (null, Unauthorized("Malformed Basic credentials."));
        var name = decoded[..colon];
        var password = decoded[(colon + 1)..];
        if (!name.Contains('@', StringComparison.Ordinal)) name += "@" + server.Domain;
        if (!Jid.TryParse(name, out var parsed) || parsed.Local is null || parsed.Resource is not null || parsed.Domain != server.Domain) parsed = null;
        var result = await Security.HttpPasswords.CheckAsync(server, context, parsed, password).ConfigureAwait(false);
        return result.Outcome switch
        {
            Security.HttpPasswordOutcome.Ok => (parsed, null),
            Security.HttpPasswordOutcome.Banned => (null, Security.HttpPasswords.TooManyAttempts(context, result.RetryAfter)),
            Security.HttpPasswordOutcome.Unavailable => (null, Problem(StatusCodes.Status503ServiceUnavailable, "Storage is not available; try again.")),
            Security.HttpPasswordOutcome.Insecure => (null, Problem(StatusCodes.Status403Forbidden, Security.HttpPasswords.InsecureMessage(server, context))),
            _ => (null, Unauthorized("Unknown account or wrong password.")),
        };
    }

    private static IResult Unauthorized(string message) => new UnauthorizedResult(message);

    private static IResult Problem(int status, string message) => Results.Json(new { error = message, status }, statusCode: status);

    private static IResult FromPubSub(PubSubException e)
    {
        var error = e.Error;
        var app = error.ApplicationCondition?.Name;
        var status = (error.Condition, app) switch
        {
            (_, "payload-too-big") => 413,
            (StanzaErrorCondition.ItemNotFound, _) => 404,
            (StanzaErrorCondition.Forbidden or StanzaErrorCondition.NotAuthorized or StanzaErrorCondition.NotAllowed, _) => 403,
            (StanzaErrorCondition.Conflict, _) => 409,
            (StanzaErrorCondition.InternalServerError, _) => 500,
            _ => 400,
        };
        var condition = StanzaError.ToElementName(error.Condition) + (app is null ? "" : " (" + app + ")");
        return Results.Json(new { error = error.Text ?? condition, condition, status }, statusCode: status);
    }

    private sealed class UnauthorizedResult(string message) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.WWWAuthenticate = "Basic realm=\"tendril\", charset=\"UTF-8\"";
            return Results.Json(new { error = message, status = 401 }, statusCode: 401).ExecuteAsync(httpContext);
        }
    }
}
