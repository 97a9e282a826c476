using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Features;

/// <summary>
/// Discovery (XEP-0030) beyond what features register on an account's bare JID: the nodes of its PEP service
/// (XEP-0163). Plugged in with <see cref="FeatureRegistry.SetAccountDiscoProvider"/>; the disco feature calls it.
/// </summary>
public interface IAccountDiscoProvider
{
    /// <summary>Answers a disco#info or disco#items get carrying a 'node' to an account's bare JID (<see cref="IqRequest.To"/>).</summary>
    ValueTask HandleNodeQueryAsync(IqRequest request);

    /// <summary>Adds to a disco#items result (no node) on <paramref name="account"/> the items <paramref name="requester"/> may see.</summary>
    ValueTask AddItemsAsync(Jid account, Jid requester, XmlElement query);
}
