using Tendril.Protocol.Errors;
using Tendril.Protocol.Sasl;
using Tendril.Xml;

namespace Tendril.Client;

/// <summary>Base of the errors an <see cref="XmppClient"/> raises for protocol-level failures.</summary>
public class XmppException : Exception
{
    public XmppException() { }

    public XmppException(string message) : base(message) { }

    public XmppException(string message, Exception? inner) : base(message, inner) { }
}

/// <summary>SASL authentication failed (RFC 6120 §6.5): the server's condition and optional text.</summary>
public sealed class XmppAuthenticationException : XmppException
{
    public XmppAuthenticationException(SaslFailure condition, string? text, string mechanism)
        : base($"Authentication with {mechanism} failed: {ConditionName(condition)}{(text is null ? "" : " (" + text + ")")}")
    {
        Condition = condition;
        Text = text;
        Mechanism = mechanism;
    }

    /// <summary>The SASL failure condition; <see cref="SaslFailure.None"/> when the server's signature did not verify (the server is not who it claims).</summary>
    public SaslFailure Condition { get; }

    public string? Text { get; }

    public string Mechanism { get; }

    private static string ConditionName(SaslFailure c) => c == SaslFailure.None ? "server signature mismatch" : c.ToElementName();
}

/// <summary>The server ended the stream with a stream error (RFC 6120 §4.9).</summary>
public sealed class XmppStreamException : XmppException
{
    public XmppStreamException(StreamErrorCondition condition, string? text)
        : base($"Stream error: {StreamError.ToElementName(condition)}{(text is null ? "" : " (" + text + ")")}")
    {
        Condition = condition;
        Text = text;
    }

    public StreamErrorCondition Condition { get; }

    public string? Text { get; }
}

/// <summary>An iq request was answered with an error stanza (RFC 6120 §8.3).</summary>
public sealed class XmppStanzaException : XmppException
{
    public XmppStanzaException(StanzaError error, XmlElement stanza)
        : base($"Stanza error: {StanzaError.ToElementName(error.Condition)} ({StanzaError.ToTypeName(error.Type)}){(error.Text is null ? "" : ": " + error.Text)}")
    {
        Error = error;
        Stanza = stanza;
    }

    /// <summary>The parsed error.</summary>
    public StanzaError Error { get; }

    /// <summary>The whole error stanza as received.</summary>
    public XmlElement Stanza { get; }
}
