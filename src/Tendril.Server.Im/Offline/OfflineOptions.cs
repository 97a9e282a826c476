using Tendril.Server.Configuration;

namespace Tendril.Server.Features.Offline
{
    /// <summary>Offline message storage (XEP-0160): bound from <c>Tendril:Offline</c>.</summary>
    public sealed class OfflineOptions : IFeatureOptions
    {
        /// <summary>
        /// Messages stored per account while it is offline (XEP-0160); beyond it senders get service-unavailable.
        /// 0 stores nothing.
        /// </summary>
        public int MaxPerUser { get; set; } = 1000;

        public void Validate(List<string> problems)
        {
            if (MaxPerUser is < 0 or > 1_000_000) problems.Add("Tendril:Offline:MaxPerUser must be 0..1000000");
        }
    }
}

namespace Tendril.Server.Configuration
{
    /// <summary>The <c>Tendril:Offline</c> options as a property of the server's options.</summary>
    public static class OfflineOptionsAccess
    {
        extension(TendrilOptions options)
        {
            public Tendril.Server.Features.Offline.OfflineOptions Offline => options.Feature<Tendril.Server.Features.Offline.OfflineOptions>();
        }
    }
}
