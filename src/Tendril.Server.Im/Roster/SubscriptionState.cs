using Tendril.Storage;

namespace Tendril.Server.Features.Roster;

/// <summary>
/// The nine subscription states of RFC 6121 Appendix A.1 for one (user, contact) pair, from the user's side:
/// the subscription (none/to/from/both) plus "Pending Out" (the user asked, <c>ask='subscribe'</c>) and "Pending In"
/// (the contact asked and the user has not answered).
/// </summary>
public readonly record struct SubscriptionState(RosterSubscription Subscription, bool PendingOut, bool PendingIn)
{
    public static SubscriptionState None { get; } = new(RosterSubscription.None, false, false);

    /// <summary>The user receives the contact's presence.</summary>
    public bool HasTo => Subscription is RosterSubscription.To or RosterSubscription.Both;

    /// <summary>The contact receives the user's presence.</summary>
    public bool HasFrom => Subscription is RosterSubscription.From or RosterSubscription.Both;

    public SubscriptionState WithTo(bool to) => this with { Subscription = Combine(to, HasFrom) };

    public SubscriptionState WithFrom(bool from) => this with { Subscription = Combine(HasTo, from) };

    private static RosterSubscription Combine(bool to, bool from) => (to, from) switch
    {
        (true, true) => RosterSubscription.Both,
        (true, false) => RosterSubscription.To,
        (false, true) => RosterSubscription.From,
        _ => RosterSubscription.None,
    };

    public override string ToString()
    {
        var s = Subscription.ToString();
        if (PendingOut) s += "+PendingOut";
        if (PendingIn) s += "+PendingIn";
        return s;
    }
}

/// <summary>
/// The state tables of RFC 6121 Appendix A as pure functions: A.2 for stanzas the user sends (outbound) and A.3 for
/// stanzas the user's server receives for the user (inbound). Each returns the new state; equal to the old one means
/// "no state change", which decides whether the stanza is routed or delivered and whether a roster push is sent.
/// </summary>
public static class SubscriptionTransitions
{
    /// <summary>A.2.1: the user sends subscribe. Pending Out unless the user is already subscribed.</summary>
    public static SubscriptionState OutboundSubscribe(SubscriptionState s) => s.HasTo ? s : s with { PendingOut = true };

    /// <summary>A.2.2: the user sends subscribed. Only approving a pending request changes the state (else see pre-approval, §3.4).</summary>
    public static SubscriptionState OutboundSubscribed(SubscriptionState s) => s.PendingIn ? s.WithFrom(true) with { PendingIn = false } : s;

    /// <summary>A.2.3: the user sends unsubscribe: the user's subscription (or request) is gone.</summary>
    public static SubscriptionState OutboundUnsubscribe(SubscriptionState s) => s.WithTo(false) with { PendingOut = false };

    /// <summary>A.2.4: the user sends unsubscribed: the contact's subscription (or request) is cancelled or denied.</summary>
    public static SubscriptionState OutboundUnsubscribed(SubscriptionState s) => s.WithFrom(false) with { PendingIn = false };

    /// <summary>A.3.1: the contact asks to subscribe. Pending In unless already subscribed (then the server auto-replies).</summary>
    public static SubscriptionState InboundSubscribe(SubscriptionState s) => s.HasFrom ? s : s with { PendingIn = true };

    /// <summary>A.3.2: the contact approved: only meaningful while the user's request is pending.</summary>
    public static SubscriptionState InboundSubscribed(SubscriptionState s) => s.PendingOut ? s.WithTo(true) with { PendingOut = false } : s;

    /// <summary>A.3.3: the contact unsubscribes from the user's presence (or withdraws the request).</summary>
    public static SubscriptionState InboundUnsubscribe(SubscriptionState s) => s.WithFrom(false) with { PendingIn = false };

    /// <summary>A.3.4: the contact cancelled or denied the user's subscription.</summary>
    public static SubscriptionState InboundUnsubscribed(SubscriptionState s) => s.WithTo(false) with { PendingOut = false };
}
