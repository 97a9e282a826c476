using Tendril.Server.Configuration;

namespace Tendril.Server.Features.Mam
{
    /// <summary>The message archive (XEP-0313): bound from <c>Tendril:Mam</c>.</summary>
    public sealed class MamOptions : IFeatureOptions
    {
        /// <summary>Archives messages and answers archive queries (XEP-0313).</summary>
        public bool Enabled { get; set; } = true;

        /// <summary>Results per page when a query names no RSM max.</summary>
        public int DefaultPageSize { get; set; } = 50;

        /// <summary>The largest page; a larger RSM max is reduced to it (XEP-0313 §4.3.1 lets the server limit pages).</summary>
        public int MaxPageSize { get; set; } = 250;

        /// <summary>Messages older than this are deleted by an hourly sweep; 0 keeps them forever.</summary>
        public int RetentionDays { get; set; }

        /// <summary>
        /// Archive records waiting for the background writer; when full, the stanza being archived waits for space
        /// (back-pressure: nothing is dropped, memory stays bounded).
        /// </summary>
        public int WriteQueueCapacity { get; set; } = 8192;

        /// <summary>
        /// How many times a failed archive batch is tried (with backoff from 100 ms, doubling, up to 5 s) before it is
        /// dropped with an error log and the <c>tendril.mam.dropped</c> counter.
        /// </summary>
        public int WriteAttempts { get; set; } = 5;

        public void Validate(List<string> problems)
        {
            if (MaxPageSize is < 1 or > 10_000) problems.Add("Tendril:Mam:MaxPageSize must be 1..10000");
            if (DefaultPageSize < 1 || DefaultPageSize > MaxPageSize) problems.Add("Tendril:Mam:DefaultPageSize must be 1..MaxPageSize");
            if (WriteQueueCapacity is < 1 or > 1_000_000) problems.Add("Tendril:Mam:WriteQueueCapacity must be 1..1000000");
            if (WriteAttempts is < 1 or > 100) problems.Add("Tendril:Mam:WriteAttempts must be 1..100");
            if (RetentionDays < 0) problems.Add("Tendril:Mam:RetentionDays must be 0 or more");
        }
    }
}

namespace Tendril.Server.Configuration
{
    /// <summary>The <c>Tendril:Mam</c> options as a property of the server's options.</summary>
    public static class MamOptionsAccess
    {
        extension(TendrilOptions options)
        {
            public Tendril.Server.Features.Mam.MamOptions Mam => options.Feature<Tendril.Server.Features.Mam.MamOptions>();
        }
    }
}
