using Tendril.Server.Features;
using Tendril.Protocol;

namespace Tendril.Server.Features.PubSub;

/// <summary>
/// The presence and roster access models (XEP-0060 §4.5) answered from the node owner's real roster (RFC 6121):
/// presence subscription = the owner's roster has the contact with subscription 'from' or 'both'.
/// </summary>
public sealed class RosterAccessContext(RosterQueries roster) : IPubSubAccessContext
{
    public ValueTask<bool> HasPresenceSubscriptionAsync(Jid owner, Jid contact, CancellationToken cancellationToken = default) =>
        roster.HasPresenceSubscriptionAsync(owner, contact);

    public async ValueTask<IReadOnlyList<string>> RosterGroupsAsync(Jid owner, Jid contact, CancellationToken cancellationToken = default)
    {
        if (owner.Local is null) return [];
        var item = await roster.FindItemAsync(owner, contact).ConfigureAwait(false);
        return item?.Groups ?? [];
    }
}
