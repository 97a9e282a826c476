using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Configuration;
using Tendril.Xml;

namespace Tendril.Server.Features.ExternalServices;

/// <summary>
/// External Service Discovery (XEP-0215, urn:xmpp:extdisco:2) from <c>Tendril:ExternalServices</c>: a services request
/// to the server lists them (optionally only those of the requested 'type', §3.1); a credentials request (§3.3) for a
/// service's host and type returns its credentials, item-not-found for a service that is not configured. Credentials are
/// fixed ones from the configuration, or temporary ones derived from a shared secret (TURN REST style, with 'expires');
/// restricted services list no credentials, only restricted='true'. Registered only when services are configured, so
/// the feature is not advertised otherwise.
/// </summary>
public sealed class ExternalServicesFeature : IServerFeature
{
    public const string Namespace = "urn:xmpp:extdisco:2";

    private XmppServer _server = null!;
    private IReadOnlyList<ExternalServiceOptions> _services = [];

    public void Register(FeatureRegistry registry)
    {
        _server = registry.Server;
        _services = _server.Options.ExternalServices;
        if (_services.Count == 0) return;
        registry.AddDiscoFeature(Namespace);
        registry.HandleIq("services", Namespace, ServicesAsync, IqTarget.Server);
        registry.HandleIq("credentials", Namespace, CredentialsAsync, IqTarget.Server);
    }

    private ValueTask ServicesAsync(IqRequest request)
    {
        if (!request.IsGet)
        {
            request.ReplyError(StanzaErrorCondition.BadRequest);
            return ValueTask.CompletedTask;
        }
        var type = request.Payload.GetAttribute("type");
        var result = new XmlElement("services", Namespace);
        if (type is not null) result.SetAttribute("type", type);
        foreach (var service in _services)
        {
            if (type is not null && service.Type != type) continue;
            result.Add(Describe(service, request, withCredentials: !service.Restricted));
        }
        request.Reply(result);
        return ValueTask.CompletedTask;
    }

    private ValueTask CredentialsAsync(IqRequest request)
    {
        if (!request.IsGet)
        {
            request.ReplyError(StanzaErrorCondition.BadRequest);
            return ValueTask.CompletedTask;
        }
        var asked = request.Payload.Element("service", Namespace);
        var host = asked?.GetAttribute("host");
        var type = asked?.GetAttribute("type");
        if (host is null || type is null)
        {
            request.ReplyError(StanzaErrorCondition.BadRequest, "Name the service's host and type.");
            return ValueTask.CompletedTask;
        }
        // §3.3: 'port' picks one of several services of the same host and type; without it every match is returned.
        var port = asked!.GetAttribute("port");
        var matches = _services.Where(s => s.Host == host && s.Type == type
            && (port is null || port == s.Port.ToString(CultureInfo.InvariantCulture))).ToList();
        if (matches.Count == 0)
        {
            request.ReplyError(StanzaErrorCondition.ItemNotFound);
            return ValueTask.CompletedTask;
        }
        var credentials = new XmlElement("credentials", Namespace);
        foreach (var service in matches) credentials.Add(Describe(service, request, withCredentials: true));
        request.Reply(credentials);
        return ValueTask.CompletedTask;
    }

    private XmlElement Describe(ExternalServiceOptions service, IqRequest request, bool withCredentials)
    {
        var e = new XmlElement("service", Namespace).SetAttribute("type", service.Type).SetAttribute("host", service.Host);
        e.SetAttribute("port", service.Port.ToString(CultureInfo.InvariantCulture));
        if (service.Transport.Length > 0) e.SetAttribute("transport", service.Transport);
        if (service.Name.Length > 0) e.SetAttribute("name", service.Name);
        if (!withCredentials)
        {
            if (service.Secret.Length > 0 || service.Username.Length > 0 || service.Password.Length > 0) e.SetAttribute("restricted", "true");
            return e;
        }
        if (service.Secret.Length > 0)
        {
            var expires = _server.Time.GetUtcNow().AddSeconds(service.TtlSeconds);
            var username = expires.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) + ":" + request.From.Bare;
            var password = Convert.ToBase64String(HMACSHA1.HashData(Encoding.UTF8.GetBytes(service.Secret), Encoding.UTF8.GetBytes(username)));
            e.SetAttribute("username", username).SetAttribute("password", password)
                .SetAttribute("expires", XmppDateTime.Format(expires));
        }
        else
        {
            if (service.Username.Length > 0) e.SetAttribute("username", service.Username);
            if (service.Password.Length > 0) e.SetAttribute("password", service.Password);
        }
        return e;
    }
}
