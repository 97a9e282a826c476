using Tendril.Server.Configuration;

namespace Tendril.Server.Features.Upload
{
    /// <summary>HTTP File Upload (XEP-0363): bound from <c>Tendril:Upload</c>.</summary>
    public sealed class UploadOptions : IFeatureOptions
    {
        /// <summary>Offer HTTP File Upload (XEP-0363) on <see cref="Domain"/> (needs the HTTP port).</summary>
        public bool Enabled { get; set; } = true;

        /// <summary>The upload service's JID; empty: <c>upload.{Domain}</c>.</summary>
        public string Domain { get; set; } = "";

        /// <summary>Largest file accepted, in bytes (advertised as max-file-size).</summary>
        public long MaxFileBytes { get; set; } = 10 * 1024 * 1024;

        /// <summary>Total bytes one account may have stored (including slots not yet uploaded).</summary>
        public long QuotaBytesPerUser { get; set; } = 100 * 1024 * 1024;

        /// <summary>Uploaded files are deleted this many days after upload.</summary>
        public int ExpiryDays { get; set; } = 30;

        /// <summary>A slot not used (PUT) within this many seconds expires.</summary>
        public int SlotLifetimeSeconds { get; set; } = 300;

        /// <summary>Scheme, host and port put into slot URLs; empty: <c>http://{Domain}:{Http:Port}</c>.</summary>
        public string PublicBaseUrl { get; set; } = "";

        /// <summary>The upload service's domain is hosted from the start.</summary>
        public IEnumerable<string> RestartRequired(IFeatureOptions previous)
        {
            if (previous is UploadOptions old && (old.Enabled != Enabled || old.Domain != Domain)) yield return "Upload service domain";
        }

        public void Validate(List<string> problems)
        {
            if (MaxFileBytes <= 0) problems.Add("Tendril:Upload:MaxFileBytes must be positive");
            if (QuotaBytesPerUser < MaxFileBytes) problems.Add("Tendril:Upload:QuotaBytesPerUser must be at least MaxFileBytes");
            if (ExpiryDays <= 0) problems.Add("Tendril:Upload:ExpiryDays must be positive");
            if (SlotLifetimeSeconds <= 0) problems.Add("Tendril:Upload:SlotLifetimeSeconds must be positive");
            if (PublicBaseUrl.Length > 0 && (!Uri.TryCreate(PublicBaseUrl, UriKind.Absolute, out var baseUrl) || baseUrl.Scheme is not ("http" or "https")))
                problems.Add($"Tendril:Upload:PublicBaseUrl '{PublicBaseUrl}' is not an absolute http(s) URL");
        }
    }
}

namespace Tendril.Server.Configuration
{
    /// <summary>The <c>Tendril:Upload</c> options as a property of the server's options.</summary>
    public static class UploadOptionsAccess
    {
        extension(TendrilOptions options)
        {
            public Tendril.Server.Features.Upload.UploadOptions Upload => options.Feature<Tendril.Server.Features.Upload.UploadOptions>();
        }
    }
}
