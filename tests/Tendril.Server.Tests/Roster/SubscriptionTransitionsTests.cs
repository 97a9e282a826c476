using Tendril.Server.Features.Roster;
using Tendril.Storage;

namespace Tendril.Server.Tests.Roster;

/// <summary>Every row of the state tables of RFC 6121 Appendix A (A.2.1–A.2.4 outbound, A.3.1–A.3.4 inbound).</summary>
public sealed class SubscriptionTransitionsTests
{
    private static readonly string[] States = ["N", "N+PO", "N+PI", "N+PO+PI", "T", "T+PI", "F", "F+PO", "B"];

    // Expected new state per row of each table, in the order of States ("=" is "no state change").
    public static TheoryData<string, string> Tables() => new()
    {
        { "A.2.1 outbound subscribe",    "N+PO | = | N+PO+PI | = | = | = | F+PO | = | =" },
        { "A.2.2 outbound subscribed",   "= | = | F | F+PO | = | B | = | = | =" },
        { "A.2.3 outbound unsubscribe",  "= | N | = | N+PI | N | N+PI | = | F | F" },
        { "A.2.4 outbound unsubscribed", "= | = | N | N+PO | = | T | N | N+PO | T" },
        { "A.3.1 inbound subscribe",     "N+PI | N+PO+PI | = | = | T+PI | = | = | = | =" },
        { "A.3.2 inbound subscribed",    "= | T | = | T+PI | = | = | = | B | =" },
        { "A.3.3 inbound unsubscribe",   "= | = | N | N+PO | = | T | N | N+PO | T" },
        { "A.3.4 inbound unsubscribed",  "= | N | = | N+PI | N | N+PI | = | F | F" },
    };

    [Theory]
    [MemberData(nameof(Tables))]
    public void Every_row_matches_appendix_a(string table, string expectedRow)
    {
        Func<SubscriptionState, SubscriptionState> transition = table.Split(' ')[1..3] switch
        {
            ["outbound", "subscribe"] => SubscriptionTransitions.OutboundSubscribe,
            ["outbound", "subscribed"] => SubscriptionTransitions.OutboundSubscribed,
            ["outbound", "unsubscribe"] => SubscriptionTransitions.OutboundUnsubscribe,
            ["outbound", "unsubscribed"] => SubscriptionTransitions.OutboundUnsubscribed,
            ["inbound", "subscribe"] => SubscriptionTransitions.InboundSubscribe,
            ["inbound", "subscribed"] => SubscriptionTransitions.InboundSubscribed,
            ["inbound", "unsubscribe"] => SubscriptionTransitions.InboundUnsubscribe,
            ["inbound", "unsubscribed"] => SubscriptionTransitions.InboundUnsubscribed,
            _ => throw new ArgumentException(table),
        };
        var expected = expectedRow.Split('|', StringSplitOptions.TrimEntries);
        Assert.Equal(States.Length, expected.Length);
        for (var i = 0; i < States.Length; i++)
        {
            var state = Parse(States[i]);
            var want = expected[i] == "=" ? state : Parse(expected[i]);
            Assert.True(want == transition(state), $"{table}: {States[i]} → expected {want}, got {transition(state)}");
        }
    }

    private static SubscriptionState Parse(string text)
    {
        var parts = text.Split('+');
        var subscription = parts[0] switch
        {
            "T" => RosterSubscription.To,
            "F" => RosterSubscription.From,
            "B" => RosterSubscription.Both,
            _ => RosterSubscription.None,
        };
        return new SubscriptionState(subscription, parts.Contains("PO"), parts.Contains("PI"));
    }
}
