using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Features.StreamManagement;

/// <summary>XEP-0352 client state indication: offers &lt;csi xmlns='urn:xmpp:csi:0'/&gt; and turns it on in client streams.</summary>
public sealed class ClientStateIndicationFeature : IServerFeature
{
    public void Register(FeatureRegistry registry)
    {
        registry.EnableClientStateIndication();
        registry.AddStreamFeature(_ => new XmlElement("csi", Ns.Csi));
    }
}
