using Tendril.Protocol;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Features;

/// <summary>
/// Carries stanzas to domains this server neither is nor hosts (server-to-server federation, RFC 6120). Plugged in with
/// <see cref="FeatureRegistry.SetRemoteDomainRouter"/>; without one, such stanzas bounce with remote-server-not-found.
/// The stanza's 'from' is stamped; it may be shared with other recipients (do not modify it).
/// </summary>
public interface IRemoteDomainRouter
{
    /// <summary>
    /// Takes <paramref name="stanza"/> for <paramref name="to"/> (of a remote domain). Delivery is in order per remote
    /// domain; failures are answered to the sender with the errors of RFC 6120 §8.3 (remote-server-not-found,
    /// remote-server-timeout). <paramref name="origin"/> is the sender's session when it is local.
    /// </summary>
    ValueTask RouteAsync(XmlElement stanza, Jid from, Jid to, C2sSession? origin);
}
