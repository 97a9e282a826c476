using Tendril.Xml;

namespace Tendril.Protocol.Errors;

/// <summary>Stream error conditions of RFC 6120 §4.9.3.</summary>
public enum StreamErrorCondition
{
    BadFormat,
    BadNamespacePrefix,
    Conflict,
    ConnectionTimeout,
    HostGone,
    HostUnknown,
    ImproperAddressing,
    InternalServerError,
    InvalidFrom,
    InvalidNamespace,
    InvalidXml,
    NotAuthorized,
    NotWellFormed,
    PolicyViolation,
    RemoteConnectionFailed,
    Reset,
    ResourceConstraint,
    RestrictedXml,
    SeeOtherHost,
    SystemShutdown,
    UndefinedCondition,
    UnsupportedEncoding,
    UnsupportedFeature,
    UnsupportedStanzaType,
    UnsupportedVersion,
}

/// <summary>A stream error to send before closing a stream (RFC 6120 §4.9).</summary>
public readonly record struct StreamError(StreamErrorCondition Condition, string? Text = null)
{
    public static string ToElementName(StreamErrorCondition condition) => condition switch
    {
        StreamErrorCondition.BadFormat => "bad-format",
        StreamErrorCondition.BadNamespacePrefix => "bad-namespace-prefix",
        StreamErrorCondition.Conflict => "conflict",
        StreamErrorCondition.ConnectionTimeout => "connection-timeout",
        StreamErrorCondition.HostGone => "host-gone",
        StreamErrorCondition.HostUnknown => "host-unknown",
        StreamErrorCondition.ImproperAddressing => "improper-addressing",
        StreamErrorCondition.InternalServerError => "internal-server-error",
        StreamErrorCondition.InvalidFrom => "invalid-from",
        StreamErrorCondition.InvalidNamespace => "invalid-namespace",
        StreamErrorCondition.InvalidXml => "invalid-xml",
        StreamErrorCondition.NotAuthorized => "not-authorized",
        StreamErrorCondition.NotWellFormed => "not-well-formed",
        StreamErrorCondition.PolicyViolation => "policy-violation",
        StreamErrorCondition.RemoteConnectionFailed => "remote-connection-failed",
        StreamErrorCondition.Reset => "reset",
        StreamErrorCondition.ResourceConstraint => "resource-constraint",
        StreamErrorCondition.RestrictedXml => "restricted-xml",
        StreamErrorCondition.SeeOtherHost => "see-other-host",
        StreamErrorCondition.SystemShutdown => "system-shutdown",
        StreamErrorCondition.UndefinedCondition => "undefined-condition",
        StreamErrorCondition.UnsupportedEncoding => "unsupported-encoding",
        StreamErrorCondition.UnsupportedFeature => "unsupported-feature",
        StreamErrorCondition.UnsupportedStanzaType => "unsupported-stanza-type",
        StreamErrorCondition.UnsupportedVersion => "unsupported-version",
        _ => "undefined-condition",
    };

    public string ConditionName => ToElementName(Condition);

    /// <summary>The children of <c>&lt;stream:error/&gt;</c>: the condition and an optional text.</summary>
    public XmlElement ToCondition() => new(ConditionName, Ns.StreamErrors);

    public XmlElement? ToText() => Text is null
        ? null
        : new XmlElement("text", Ns.StreamErrors).SetAttribute("lang", "en", XmlNamespaces.Xml).Add(Text);

    public override string ToString() => Text is null ? ConditionName : $"{ConditionName} ({Text})";
}
