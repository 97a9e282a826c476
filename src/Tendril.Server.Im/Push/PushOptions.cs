using Tendril.Server.Configuration;

namespace Tendril.Server.Features.Push
{
    /// <summary>Push notifications (XEP-0357): bound from <c>Tendril:Push</c>.</summary>
    public sealed class PushOptions : IFeatureOptions
    {
        /// <summary>Puts the last message's body in the push summary (XEP-0357 §5: off by default — the app server sees it).</summary>
        public bool IncludeBody { get; set; }

        /// <summary>At most one push per registration in this many seconds (0: no limit).</summary>
        public int MinIntervalSeconds { get; set; } = 5;

        /// <summary>Registrations (app server, node) kept per account.</summary>
        public int MaxRegistrations { get; set; } = 20;

        public void Validate(List<string> problems)
        {
            if (MinIntervalSeconds is < 0 or > 86_400) problems.Add("Tendril:Push:MinIntervalSeconds must be 0..86400");
            if (MaxRegistrations is < 1 or > 1000) problems.Add("Tendril:Push:MaxRegistrations must be 1..1000");
        }
    }
}

namespace Tendril.Server.Configuration
{
    /// <summary>The <c>Tendril:Push</c> options as a property of the server's options.</summary>
    public static class PushOptionsAccess
    {
        extension(TendrilOptions options)
        {
            public Tendril.Server.Features.Push.PushOptions Push => options.Feature<Tendril.Server.Features.Push.PushOptions>();
        }
    }
}
