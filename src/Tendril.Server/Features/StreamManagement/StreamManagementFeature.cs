using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Features.StreamManagement;

/// <summary>
/// XEP-0198 stream management: offers &lt;sm xmlns='urn:xmpp:sm:3'/&gt; after authentication and turns the
/// protocol on in client streams (acks, resumption: see C2sStream.StreamManagement.cs and StreamManagementRegistry).
/// </summary>
public sealed class StreamManagementFeature : IServerFeature
{
    public void Register(FeatureRegistry registry)
    {
        registry.EnableStreamManagement();
        registry.AddStreamFeature(_ => new XmlElement("sm", Ns.StreamManagement));
    }
}
