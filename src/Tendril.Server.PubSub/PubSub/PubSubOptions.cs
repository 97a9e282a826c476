using Tendril.Server.Configuration;

namespace Tendril.Server.Features.PubSub
{
    /// <summary>Publish-subscribe services (XEP-0060): bound from <c>Tendril:PubSub</c>.</summary>
    public sealed class PubSubOptions : IFeatureOptions
    {
        /// <summary>Run the publish-subscribe service(s) (XEP-0060).</summary>
        public bool Enabled { get; set; } = true;

        /// <summary>Service JIDs; "{Domain}" is replaced by the server's domain. Empty: one service, pubsub.{Domain}.</summary>
        public List<string> Services { get; set; } = [];

        /// <summary>The largest pubsub#max_items a node may have (and what "max" means).</summary>
        public int MaxItems { get; set; } = 1000;

        /// <summary>The largest item payload in bytes; larger publishes get not-acceptable + payload-too-big (HTTP 413).</summary>
        public int MaxPayloadBytes { get; set; } = 64 * 1024;

        /// <summary>
        /// Nodes one account may own: its PEP nodes, and the nodes it created on a pubsub service (issue 19: without a cap
        /// one account created nodes without end). Beyond it creation answers not-allowed + max-nodes-exceeded. 0: no limit.
        /// </summary>
        public int MaxNodesPerAccount { get; set; } = 200;

        /// <summary>The pubsub feature builds its services at start (it implements no IReloadableFeature yet).</summary>
        public IEnumerable<string> RestartRequired(IFeatureOptions previous)
        {
            if (previous is PubSubOptions old && (old.Enabled != Enabled || !old.Services.SequenceEqual(Services) || old.MaxItems != MaxItems || old.MaxPayloadBytes != MaxPayloadBytes))
            {
                yield return "PubSub";
            }
        }

        public void Validate(List<string> problems)
        {
            if (MaxItems < 1) problems.Add("Tendril:PubSub:MaxItems must be at least 1");
            if (MaxPayloadBytes < 1024) problems.Add("Tendril:PubSub:MaxPayloadBytes must be at least 1024");
            if (MaxNodesPerAccount < 0) problems.Add("Tendril:PubSub:MaxNodesPerAccount must not be negative");
        }
    }
}

namespace Tendril.Server.Configuration
{
    /// <summary>The <c>Tendril:PubSub</c> options as a property of the server's options.</summary>
    public static class PubSubOptionsAccess
    {
        extension(TendrilOptions options)
        {
            public Tendril.Server.Features.PubSub.PubSubOptions PubSub => options.Feature<Tendril.Server.Features.PubSub.PubSubOptions>();
        }
    }
}
