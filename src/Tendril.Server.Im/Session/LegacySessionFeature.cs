using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Features.Session;

/// <summary>
/// The session-establishment iq of RFC 3921 §3, kept for old clients: offered as optional
/// (draft-cridland-xmpp-session, RFC 6121 Appendix E) and answered with an empty result.
/// </summary>
public sealed class LegacySessionFeature : IServerFeature
{
    public void Register(FeatureRegistry registry)
    {
        registry.AddStreamFeature(NegotiationStep.Binding, _ => new XmlElement("session", Ns.Session).Add(new XmlElement("optional", Ns.Session)));
        registry.HandleIq("session", Ns.Session, HandleAsync, IqTarget.Server | IqTarget.Account);
    }

    private static ValueTask HandleAsync(IqRequest request)
    {
        if (request.IsSet) request.Reply();
        else request.ReplyError(Protocol.Errors.StanzaErrorCondition.BadRequest);
        return ValueTask.CompletedTask;
    }
}
