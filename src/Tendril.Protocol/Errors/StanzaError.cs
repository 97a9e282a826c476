using Tendril.Xml;

namespace Tendril.Protocol.Errors;

/// <summary>Stanza error types of RFC 6120 §8.3.2.</summary>
public enum StanzaErrorType
{
    Auth,
    Cancel,
    Continue,
    Modify,
    Wait,
}

/// <summary>Defined stanza error conditions of RFC 6120 §8.3.3, with their usual type.</summary>
public enum StanzaErrorCondition
{
    BadRequest,
    Conflict,
    FeatureNotImplemented,
    Forbidden,
    Gone,
    InternalServerError,
    ItemNotFound,
    JidMalformed,
    NotAcceptable,
    NotAllowed,
    NotAuthorized,
    PolicyViolation,
    RecipientUnavailable,
    Redirect,
    RegistrationRequired,
    RemoteServerNotFound,
    RemoteServerTimeout,
    ResourceConstraint,
    ServiceUnavailable,
    SubscriptionRequired,
    UndefinedCondition,
    UnexpectedRequest,
}

/// <summary>A stanza error (RFC 6120 §8.3): condition, type, optional text and application-specific condition.</summary>
public sealed record StanzaError(StanzaErrorCondition Condition, StanzaErrorType Type, string? Text = null, XmlElement? ApplicationCondition = null)
{
    public static StanzaError Of(StanzaErrorCondition condition, string? text = null) => new(condition, DefaultType(condition), text);

    public static StanzaErrorType DefaultType(StanzaErrorCondition condition) => condition switch
    {
        StanzaErrorCondition.BadRequest => StanzaErrorType.Modify,
        StanzaErrorCondition.Conflict => StanzaErrorType.Cancel,
        StanzaErrorCondition.FeatureNotImplemented => StanzaErrorType.Cancel,
        StanzaErrorCondition.Forbidden => StanzaErrorType.Auth,
        StanzaErrorCondition.Gone => StanzaErrorType.Cancel,
        StanzaErrorCondition.InternalServerError => StanzaErrorType.Cancel,
        StanzaErrorCondition.ItemNotFound => StanzaErrorType.Cancel,
        StanzaErrorCondition.JidMalformed => StanzaErrorType.Modify,
        StanzaErrorCondition.NotAcceptable => StanzaErrorType.Modify,
        StanzaErrorCondition.NotAllowed => StanzaErrorType.Cancel,
        StanzaErrorCondition.NotAuthorized => StanzaErrorType.Auth,
        StanzaErrorCondition.PolicyViolation => StanzaErrorType.Modify,
        StanzaErrorCondition.RecipientUnavailable => StanzaErrorType.Wait,
        StanzaErrorCondition.Redirect => StanzaErrorType.Modify,
        StanzaErrorCondition.RegistrationRequired => StanzaErrorType.Auth,
        StanzaErrorCondition.RemoteServerNotFound => StanzaErrorType.Cancel,
        StanzaErrorCondition.RemoteServerTimeout => StanzaErrorType.Wait,
        StanzaErrorCondition.ResourceConstraint => StanzaErrorType.Wait,
        StanzaErrorCondition.ServiceUnavailable => StanzaErrorType.Cancel,
        StanzaErrorCondition.SubscriptionRequired => StanzaErrorType.Auth,
        StanzaErrorCondition.UnexpectedRequest => StanzaErrorType.Wait,
        _ => StanzaErrorType.Cancel,
    };

    public static string ToElementName(StanzaErrorCondition condition) => condition switch
    {
        StanzaErrorCondition.BadRequest => "bad-request",
        StanzaErrorCondition.Conflict => "conflict",
        StanzaErrorCondition.FeatureNotImplemented => "feature-not-implemented",
        StanzaErrorCondition.Forbidden => "forbidden",
        StanzaErrorCondition.Gone => "gone",
        StanzaErrorCondition.InternalServerError => "internal-server-error",
        StanzaErrorCondition.ItemNotFound => "item-not-found",
        StanzaErrorCondition.JidMalformed => "jid-malformed",
        StanzaErrorCondition.NotAcceptable => "not-acceptable",
        StanzaErrorCondition.NotAllowed => "not-allowed",
        StanzaErrorCondition.NotAuthorized => "not-authorized",
        StanzaErrorCondition.PolicyViolation => "policy-violation",
        StanzaErrorCondition.RecipientUnavailable => "recipient-unavailable",
        StanzaErrorCondition.Redirect => "redirect",
        StanzaErrorCondition.RegistrationRequired => "registration-required",
        StanzaErrorCondition.RemoteServerNotFound => "remote-server-not-found",
        StanzaErrorCondition.RemoteServerTimeout => "remote-server-timeout",
        StanzaErrorCondition.ResourceConstraint => "resource-constraint",
        StanzaErrorCondition.ServiceUnavailable => "service-unavailable",
        StanzaErrorCondition.SubscriptionRequired => "subscription-required",
        StanzaErrorCondition.UnexpectedRequest => "unexpected-request",
        _ => "undefined-condition",
    };

    public static string ToTypeName(StanzaErrorType type) => type switch
    {
        StanzaErrorType.Auth => "auth",
        StanzaErrorType.Cancel => "cancel",
        StanzaErrorType.Continue => "continue",
        StanzaErrorType.Modify => "modify",
        _ => "wait",
    };

    /// <summary>The <c>&lt;error/&gt;</c> child element (in the stanza's namespace).</summary>
    public XmlElement ToElement(string stanzaNamespace = Ns.Client)
    {
        var error = new XmlElement("error", stanzaNamespace).SetAttribute("type", ToTypeName(Type));
        error.Add(new XmlElement(ToElementName(Condition), Ns.Stanzas));
        if (Text is not null)
        {
            error.Add(new XmlElement("text", Ns.Stanzas).SetAttribute("lang", "en", XmlNamespaces.Xml).Add(Text));
        }
        if (ApplicationCondition is not null) error.Add(ApplicationCondition);
        return error;
    }

    /// <summary>
    /// Builds the error response to <paramref name="stanza"/> (RFC 6120 §8.3.1): same name and id, type "error",
    /// 'from' and 'to' swapped, the original payload kept for messages and presence, only the error for iq.
    /// </summary>
    public XmlElement ToReply(XmlElement stanza)
    {
        var reply = new XmlElement(stanza.Name, stanza.Namespace);
        var id = stanza.GetAttribute("id");
        if (id is not null) reply.SetAttribute("id", id);
        reply.SetAttribute("type", "error");
        var from = stanza.GetAttribute("to");
        var to = stanza.GetAttribute("from");
        if (from is not null) reply.SetAttribute("from", from);
        if (to is not null) reply.SetAttribute("to", to);
        if (stanza.Name != "iq")
        {
            foreach (var child in stanza.Children)
            {
                if (child is XmlElement e && e.Name == "error") continue;
                reply.Add(child);
            }
        }
        reply.Add(ToElement(stanza.Namespace.Length == 0 ? Ns.Client : stanza.Namespace));
        return reply;
    }

    /// <summary>Parses the error child of an error stanza (for clients); null when absent.</summary>
    public static StanzaError? Parse(XmlElement stanza)
    {
        var error = stanza.Element("error");
        if (error is null) return null;
        var type = error.GetAttribute("type") switch
        {
            "auth" => StanzaErrorType.Auth,
            "continue" => StanzaErrorType.Continue,
            "modify" => StanzaErrorType.Modify,
            "wait" => StanzaErrorType.Wait,
            _ => StanzaErrorType.Cancel,
        };
        var condition = StanzaErrorCondition.UndefinedCondition;
        string? text = null;
        XmlElement? app = null;
        foreach (var child in error.Elements())
        {
            if (child.Namespace == Ns.Stanzas)
            {
                if (child.Name == "text") { text = child.Text; continue; }
                for (var c = StanzaErrorCondition.BadRequest; c <= StanzaErrorCondition.UnexpectedRequest; c++)
                {
                    if (ToElementName(c) == child.Name) { condition = c; break; }
                }
            }
            else
            {
                app = child;
            }
        }
        return new StanzaError(condition, type, text, app);
    }
}
