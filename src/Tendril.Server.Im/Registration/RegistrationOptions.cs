using Tendril.Server.Configuration;

namespace Tendril.Server.Features.Registration
{
    /// <summary>In-band registration (XEP-0077); off by default: bound from <c>Tendril:Registration</c>.</summary>
    public sealed class RegistrationOptions : IFeatureOptions
    {
        /// <summary>Lets anyone create an account in-band (XEP-0077) over a TLS-protected stream before authentication.</summary>
        public bool Enabled { get; set; }

        /// <summary>At most this many accounts created in-band per remote IP address in any hour (kept in memory).</summary>
        public int MaxPerIpPerHour { get; set; } = 5;

        public void Validate(List<string> problems)
        {
            if (MaxPerIpPerHour is < 1 or > 100_000) problems.Add("Tendril:Registration:MaxPerIpPerHour must be 1..100000");
        }
    }
}

namespace Tendril.Server.Configuration
{
    /// <summary>The <c>Tendril:Registration</c> options as a property of the server's options.</summary>
    public static class RegistrationOptionsAccess
    {
        extension(TendrilOptions options)
        {
            public Tendril.Server.Features.Registration.RegistrationOptions Registration => options.Feature<Tendril.Server.Features.Registration.RegistrationOptions>();
        }
    }
}
