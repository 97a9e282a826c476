using Tendril.Server.Configuration;

namespace Tendril.Server.Features.Roster
{
    /// <summary>Rosters and subscriptions (RFC 6121): bound from <c>Tendril:Roster</c>.</summary>
    public sealed class RosterOptions : IFeatureOptions
    {
        /// <summary>
        /// Items one roster may hold. A roster set or an outgoing subscription request that would add one more is refused
        /// with not-allowed (issue 19: an unbounded roster makes every roster get an unbounded answer).
        /// </summary>
        public int MaxItems { get; set; } = 10_000;

        /// <summary>
        /// Inbound subscription requests kept pending per account (RFC 6121 §3.1.3); one more from a new contact is
        /// refused with resource-constraint to its sender, and not stored.
        /// </summary>
        public int MaxPendingRequests { get; set; } = 1_000;

        public void Validate(List<string> problems)
        {
            if (MaxItems is < 10 or > 1_000_000) problems.Add("Tendril:Roster:MaxItems must be 10..1000000");
            if (MaxPendingRequests is < 10 or > 1_000_000) problems.Add("Tendril:Roster:MaxPendingRequests must be 10..1000000");
        }
    }
}

namespace Tendril.Server.Configuration
{
    /// <summary>The <c>Tendril:Roster</c> options as a property of the server's options.</summary>
    public static class RosterOptionsAccess
    {
        extension(TendrilOptions options)
        {
            public Tendril.Server.Features.Roster.RosterOptions Roster => options.Feature<Tendril.Server.Features.Roster.RosterOptions>();
        }
    }
}
