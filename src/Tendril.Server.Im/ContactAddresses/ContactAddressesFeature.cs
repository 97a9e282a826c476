using Tendril.Server.Features;
using Tendril.Server.Configuration;
using Tendril.Xml;

namespace Tendril.Server.Features.ContactAddresses;

/// <summary>
/// Contact Addresses for XMPP Services (XEP-0157): the addresses of <c>Tendril:ContactAddresses</c> published as a
/// <c>http://jabber.org/network/serverinfo</c> form in the server's disco#info (XEP-0128). Nothing is published when
/// none is configured; there is no disco feature to advertise.
/// </summary>
public sealed class ContactAddressesFeature : IServerFeature
{
    public const string FormType = "http://jabber.org/network/serverinfo";

    public void Register(FeatureRegistry registry)
    {
        var options = registry.Server.Options.ContactAddresses;
        if (!options.All().Any(a => a.Uris.Count > 0)) return;
        var fields = new List<DataForm.Field>();
        foreach (var (name, uris) in options.All())
        {
            if (uris.Count > 0) fields.Add(new DataForm.Field(name.ToLowerInvariant() + "-addresses", "list-multi", [.. uris]));
        }
        registry.AddDiscoInfoForm(DataForm.Build("result", FormType, fields));
    }
}
