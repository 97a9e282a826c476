using Tendril.Server.Configuration;

namespace Tendril.Server.Features.Mam
{
    /// <summary>The message archive (XEP-0313): bound from <c>Tendril:Mam</c>.</summary>
    public sealed class MamOptions : IFeatureOptions
    {
        /// <summary>Archives messages and answers archive queries (XEP-0313).</summary>
        public bool Enabled { get; set; } = true;

        /// <summary>Results per page when a query names no RSM max.</summary>
        public int DefaultPageSize { get; set; } = Archive.ArchiveQueries.DefaultPageSize;

        /// <summary>The largest page; a larger RSM max is reduced to it (XEP-0313 §4.3.1 lets the server limit pages).</summary>
        public int MaxPageSize { get; set; } = Archive.ArchiveQueries.MaxPageSize;

        /// <summary>Messages older than this are deleted by an hourly sweep; 0 keeps them forever.</summary>
        public int RetentionDays { get; set; }

        /// <summary>
        /// Archive records waiting for the background writer — also while storage is unavailable, however long that
        /// lasts; when full, the stanza being archived waits for space (back-pressure: nothing is dropped, memory stays
        /// bounded by this many records).
        /// </summary>
        public int WriteQueueCapacity { get; set; } = 8192;

        /// <summary>
        /// Obsolete and ignored (a warning at start says so): the archive writer used to drop a batch after this many
        /// failed attempts; it now retries while storage is unavailable, without limit (issue 18). Still accepted so
        /// that an existing configuration starts.
        /// </summary>
        public int? WriteAttempts { get; set; }

        public void Validate(List<string> problems)
        {
            if (MaxPageSize is < 1 or > 10_000) problems.Add("Tendril:Mam:MaxPageSize must be 1..10000");
            if (DefaultPageSize < 1 || DefaultPageSize > MaxPageSize) problems.Add("Tendril:Mam:DefaultPageSize must be 1..MaxPageSize");
            if (WriteQueueCapacity is < 1 or > 1_000_000) problems.Add("Tendril:Mam:WriteQueueCapacity must be 1..1000000");
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
