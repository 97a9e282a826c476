using Tendril.Server.Configuration;

namespace Tendril.Server.Features.PrivateStorage
{
    /// <summary>Private XML storage (XEP-0049): bound from <c>Tendril:PrivateStorage</c>.</summary>
    public sealed class PrivateStorageOptions : IFeatureOptions
    {
        /// <summary>
        /// Namespaces one account may keep (issue 19: without a cap one account stored without end); a set that would
        /// add one more is answered policy-violation. 0: no limit.
        /// </summary>
        public int MaxNamespaces { get; set; } = 100;

        public void Validate(List<string> problems)
        {
            if (MaxNamespaces < 0) problems.Add("Tendril:PrivateStorage:MaxNamespaces must not be negative");
        }
    }
}

namespace Tendril.Server.Configuration
{
    /// <summary>The <c>Tendril:PrivateStorage</c> options as a property of the server's options.</summary>
    public static class PrivateStorageOptionsAccess
    {
        extension(TendrilOptions options)
        {
            public Tendril.Server.Features.PrivateStorage.PrivateStorageOptions PrivateStorage => options.Feature<Tendril.Server.Features.PrivateStorage.PrivateStorageOptions>();
        }
    }
}
