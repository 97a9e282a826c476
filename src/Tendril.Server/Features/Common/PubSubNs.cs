namespace Tendril.Server.Features;

/// <summary>The pubsub namespaces (XEP-0060 §14) and the data form types it uses.</summary>
public static class PubSubNs
{
    public const string PubSub = "http://jabber.org/protocol/pubsub";
    public const string Owner = "http://jabber.org/protocol/pubsub#owner";
    public const string Event = "http://jabber.org/protocol/pubsub#event";
    public const string Errors = "http://jabber.org/protocol/pubsub#errors";
    public const string NodeConfig = "http://jabber.org/protocol/pubsub#node_config";
    public const string SubscribeOptions = "http://jabber.org/protocol/pubsub#subscribe_options";
    public const string SubscribeAuthorization = "http://jabber.org/protocol/pubsub#subscribe_authorization";
    public const string PublishOptions = "http://jabber.org/protocol/pubsub#publish-options";
    public const string MetaData = "http://jabber.org/protocol/pubsub#meta-data";
    public const string DataForms = DataForm.Namespace;
    public const string Rsm = "http://jabber.org/protocol/rsm";
    public const string Shim = "http://jabber.org/protocol/shim";

    /// <summary>A feature var: <c>http://jabber.org/protocol/pubsub#NAME</c>.</summary>
    public static string Feature(string name) => PubSub + "#" + name;
}
