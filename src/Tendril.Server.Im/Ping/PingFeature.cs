using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Xml;

namespace Tendril.Server.Features.Ping;

/// <summary>XMPP Ping (XEP-0199): the server answers client-to-server pings (§4.2). Server-to-client pings for keepalive live in the stream's heartbeat.</summary>
public sealed class PingFeature : IServerFeature
{
    public void Register(FeatureRegistry registry)
    {
        registry.AddDiscoFeature(Ns.Ping);
        registry.HandleIq("ping", Ns.Ping, HandleAsync, IqTarget.Server);
    }

    private static ValueTask HandleAsync(IqRequest request)
    {
        if (request.IsGet) request.Reply();
        else request.ReplyError(StanzaErrorCondition.BadRequest);
        return ValueTask.CompletedTask;
    }
}
