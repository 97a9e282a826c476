using Microsoft.Extensions.Configuration;
using Tendril.Server.Configuration;

namespace Tendril.Server.Features.ExternalServices
{
    /// <summary>External services (STUN, TURN…) announced through XEP-0215: the list bound from <c>Tendril:ExternalServices</c>.</summary>
    public sealed class ExternalServicesOptions : List<ExternalServiceOptions>, IFeatureOptions
    {
        public ExternalServicesOptions()
        {
        }

        public ExternalServicesOptions(IEnumerable<ExternalServiceOptions> services)
            : base(services)
        {
        }

        public void Validate(List<string> problems)
        {
            for (var i = 0; i < Count; i++)
            {
                var service = this[i];
                var key = $"Tendril:ExternalServices:{i}";
                if (string.IsNullOrWhiteSpace(service.Type)) problems.Add($"{key}:Type is empty (stun, turn, turns, ...)");
                if (string.IsNullOrWhiteSpace(service.Host)) problems.Add($"{key}:Host is empty");
                if (service.Port is < 1 or > 65535) problems.Add($"{key}:Port must be 1..65535 (XEP-0215 requires a port)");
                if (service.Transport is not ("" or "tcp" or "udp")) problems.Add($"{key}:Transport must be empty, tcp or udp");
                if (service.Secret.Length > 0 && (service.Username.Length > 0 || service.Password.Length > 0)) problems.Add($"{key}: set either Secret or Username/Password");
                if (service.TtlSeconds <= 0) problems.Add($"{key}:TtlSeconds must be positive");
            }
        }

        /// <summary>The section is a list (<c>Tendril:ExternalServices:0:Type</c>, …).</summary>
        public void Bind(IConfigurationSection section)
        {
            Clear();
            AddRange(section.Get<List<ExternalServiceOptions>>(binder => binder.ErrorOnUnknownConfiguration = true) ?? []);
        }
    }

    /// <summary>An external service (XEP-0215), e.g. a STUN or TURN server for audio/video calls.</summary>
    public sealed class ExternalServiceOptions
    {
        /// <summary>The service type of the XEP-0215 registry: stun, turn, turns, ftp, ...</summary>
        public string Type { get; set; } = "";

        public string Host { get; set; } = "";

        /// <summary>The port (required by the XEP-0215 schema).</summary>
        public int Port { get; set; }

        /// <summary>"", "tcp" or "udp".</summary>
        public string Transport { get; set; } = "";

        /// <summary>A friendly name (optional).</summary>
        public string Name { get; set; } = "";

        /// <summary>Fixed credentials (optional).</summary>
        public string Username { get; set; } = "";

        public string Password { get; set; } = "";

        /// <summary>
        /// A secret shared with the TURN server: each user gets temporary credentials (username "EXPIRY:user@domain",
        /// password base64 HMAC-SHA1 of the username with the secret — coturn's use-auth-secret).
        /// </summary>
        public string Secret { get; set; } = "";

        /// <summary>Lifetime of temporary credentials made from <see cref="Secret"/>.</summary>
        public int TtlSeconds { get; set; } = 86400;

        /// <summary>Announce the service as restricted: credentials only through a credentials request, not in the list.</summary>
        public bool Restricted { get; set; }
    }
}

namespace Tendril.Server.Configuration
{
    /// <summary>The <c>Tendril:ExternalServices</c> list as a property of the server's options.</summary>
    public static class ExternalServicesOptionsAccess
    {
        extension(TendrilOptions options)
        {
            public Tendril.Server.Features.ExternalServices.ExternalServicesOptions ExternalServices
            {
                get => options.Feature<Tendril.Server.Features.ExternalServices.ExternalServicesOptions>();
                set => options.SetFeature(value);
            }
        }
    }
}
