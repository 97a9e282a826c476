using Tendril.Protocol.Errors;
using Tendril.Xml;

using Tendril.Server.Features;

namespace Tendril.Server.Features.PubSub;

/// <summary>A pubsub request failed: the exact stanza error (condition plus the pubsub#errors condition) to answer with.</summary>
public sealed class PubSubException(StanzaError error) : Exception(error.Text ?? error.Condition.ToString())
{
    public StanzaError Error { get; } = error;
}

/// <summary>The error cases of XEP-0060 (§6–§8), each with its defined condition and application-specific condition.</summary>
public static class PubSubErrors
{
    public static PubSubException Of(StanzaErrorCondition condition, string? pubsubCondition = null, string? text = null, string? unsupportedFeature = null)
    {
        XmlElement? app = null;
        if (pubsubCondition is not null)
        {
            app = new XmlElement(pubsubCondition, PubSubNs.Errors);
            if (unsupportedFeature is not null) app.SetAttribute("feature", unsupportedFeature);
        }
        return new PubSubException(new StanzaError(condition, StanzaError.DefaultType(condition), text, app));
    }

    public static PubSubException ItemNotFound(string? text = null) => Of(StanzaErrorCondition.ItemNotFound, text: text);
    public static PubSubException Forbidden(string? text = null) => Of(StanzaErrorCondition.Forbidden, text: text);
    public static PubSubException Conflict(string? text = null) => Of(StanzaErrorCondition.Conflict, text: text);
    public static PubSubException NodeIdRequired() => Of(StanzaErrorCondition.BadRequest, "nodeid-required");
    public static PubSubException ItemRequired() => Of(StanzaErrorCondition.BadRequest, "item-required");
    public static PubSubException InvalidJid() => Of(StanzaErrorCondition.BadRequest, "invalid-jid");
    public static PubSubException InvalidPayload(string? text = null) => Of(StanzaErrorCondition.BadRequest, "invalid-payload", text);
    public static PubSubException PayloadRequired() => Of(StanzaErrorCondition.BadRequest, "payload-required");
    public static PubSubException ItemForbidden() => Of(StanzaErrorCondition.BadRequest, "item-forbidden");
    public static PubSubException PayloadTooBig() => Of(StanzaErrorCondition.NotAcceptable, "payload-too-big");
    public static PubSubException PresenceSubscriptionRequired() => Of(StanzaErrorCondition.NotAuthorized, "presence-subscription-required");
    public static PubSubException NotInRosterGroup() => Of(StanzaErrorCondition.NotAuthorized, "not-in-roster-group");
    public static PubSubException ClosedNode() => Of(StanzaErrorCondition.NotAllowed, "closed-node");
    public static PubSubException PendingSubscription() => Of(StanzaErrorCondition.NotAuthorized, "pending-subscription");
    public static PubSubException NotSubscribedAuth() => Of(StanzaErrorCondition.NotAuthorized, "not-subscribed");
    public static PubSubException NotSubscribed() => Of(StanzaErrorCondition.UnexpectedRequest, "not-subscribed");
    public static PubSubException SubIdRequired() => Of(StanzaErrorCondition.BadRequest, "subid-required");
    public static PubSubException InvalidSubId() => Of(StanzaErrorCondition.NotAcceptable, "invalid-subid");
    public static PubSubException InvalidOptions(string? text = null) => Of(StanzaErrorCondition.BadRequest, "invalid-options", text);
    public static PubSubException PreconditionNotMet(string? text = null) => Of(StanzaErrorCondition.Conflict, "precondition-not-met", text);
    public static PubSubException BadRequest(string? text = null) => Of(StanzaErrorCondition.BadRequest, text: text);
    public static PubSubException NotAcceptable(string? text = null) => Of(StanzaErrorCondition.NotAcceptable, text: text);

    /// <summary>feature-not-implemented with &lt;unsupported feature='NAME'/&gt; (XEP-0060 §7.1.3.2 and elsewhere).</summary>
    public static PubSubException Unsupported(string feature, string? text = null) =>
        Of(StanzaErrorCondition.FeatureNotImplemented, "unsupported", text, feature);
}
