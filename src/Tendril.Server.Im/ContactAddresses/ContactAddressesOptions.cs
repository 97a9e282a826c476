using Tendril.Server.Configuration;

namespace Tendril.Server.Features.ContactAddresses
{
    /// <summary>Contact addresses (XEP-0157) as URIs, e.g. <c>mailto:abuse@example.org</c> or <c>xmpp:admin@example.org</c>.</summary>
    public sealed class ContactAddressesOptions : IFeatureOptions
    {
        public List<string> Abuse { get; set; } = [];

        public List<string> Admin { get; set; } = [];

        public List<string> Feedback { get; set; } = [];

        public List<string> Sales { get; set; } = [];

        public List<string> Security { get; set; } = [];

        public List<string> Status { get; set; } = [];

        public List<string> Support { get; set; } = [];

        /// <summary>Every list with its option name.</summary>
        public IEnumerable<(string Name, List<string> Uris)> All() =>
        [
            ("Abuse", Abuse), ("Admin", Admin), ("Feedback", Feedback), ("Sales", Sales), ("Security", Security), ("Status", Status), ("Support", Support),
        ];

        public void Validate(List<string> problems)
        {
            foreach (var (name, uris) in All())
            {
                foreach (var uri in uris)
                {
                    if (!Uri.TryCreate(uri, UriKind.Absolute, out _)) problems.Add($"Tendril:ContactAddresses:{name} '{uri}' is not an absolute URI (mailto:, xmpp:, https:)");
                }
            }
        }
    }
}

namespace Tendril.Server.Configuration
{
    /// <summary>The <c>Tendril:ContactAddresses</c> options as a property of the server's options.</summary>
    public static class ContactAddressesOptionsAccess
    {
        extension(TendrilOptions options)
        {
            public Tendril.Server.Features.ContactAddresses.ContactAddressesOptions ContactAddresses => options.Feature<Tendril.Server.Features.ContactAddresses.ContactAddressesOptions>();
        }
    }
}
