using System.Reflection;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Xml;

namespace Tendril.Server.Features.Version;

/// <summary>Software Version (XEP-0092) of the server. The operating system is not disclosed (§5 recommends caution).</summary>
public sealed class VersionFeature : IServerFeature
{
    private static readonly string ProductVersion =
        typeof(VersionFeature).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(VersionFeature).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    public void Register(FeatureRegistry registry)
    {
        registry.AddDiscoFeature(Ns.Version);
        registry.HandleIq("query", Ns.Version, HandleAsync, IqTarget.Server);
    }

    private static ValueTask HandleAsync(IqRequest request)
    {
        if (!request.IsGet)
        {
            request.ReplyError(StanzaErrorCondition.BadRequest);
            return ValueTask.CompletedTask;
        }
        var query = new XmlElement("query", Ns.Version);
        query.AddElement("name").Add("Tendril");
        query.AddElement("version").Add(ProductVersion);
        request.Reply(query);
        return ValueTask.CompletedTask;
    }
}
