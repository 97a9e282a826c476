using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Server.Features;

/// <summary>Who an iq handled by the server is addressed to.</summary>
[Flags]
public enum IqTarget
{
    /// <summary>The server's domain itself.</summary>
    Server = 1,

    /// <summary>A local account's bare JID (including an iq with no 'to', which RFC 6120 §10.3.3 addresses to the sender's own account).</summary>
    Account = 2,
}

/// <summary>An iq of type get or set that a feature handles, with the means to answer it exactly once.</summary>
public sealed class IqRequest
{
    private int _answered;

    internal IqRequest(XmppServer server, XmlElement stanza, XmlElement payload, Jid from, Jid to, bool toWasImplicit, C2sSession? origin)
    {
        Server = server;
        Stanza = stanza;
        Payload = payload;
        From = from;
        To = to;
        ToWasImplicit = toWasImplicit;
        Origin = origin;
    }

    public XmppServer Server { get; }

    /// <summary>The whole iq (from already stamped).</summary>
    public XmlElement Stanza { get; }

    /// <summary>The iq's single child.</summary>
    public XmlElement Payload { get; }

    public Jid From { get; }

    /// <summary>The addressed entity: the domain, or a bare account JID.</summary>
    public Jid To { get; }

    /// <summary>True when the iq had no 'to' (answers then carry no 'from', RFC 6120 §8.1.2.1).</summary>
    public bool ToWasImplicit { get; }

    /// <summary>The sender's session when the iq came from a local client.</summary>
    public C2sSession? Origin { get; }

    public bool IsGet => Stanza.GetAttribute("type") == "get";

    public bool IsSet => Stanza.GetAttribute("type") == "set";

    public string Id => Stanza.GetAttribute("id") ?? "";

    public bool Answered => Volatile.Read(ref _answered) != 0;

    /// <summary>Sends the result, with an optional payload.</summary>
    public void Reply(XmlElement? payload = null)
    {
        if (Interlocked.Exchange(ref _answered, 1) != 0) throw new InvalidOperationException("The iq was already answered.");
        var result = new XmlElement("iq", Ns.Client).SetAttribute("type", "result").SetAttribute("id", Id);
        if (!ToWasImplicit) result.SetAttribute("from", To.ToString());
        result.SetAttribute("to", From.ToString());
        if (payload is not null) result.Add(payload);
        Server.Router.DeliverFromServer(result, From);
    }

    /// <summary>Sends an error response.</summary>
    public void ReplyError(StanzaError error)
    {
        if (Interlocked.Exchange(ref _answered, 1) != 0) throw new InvalidOperationException("The iq was already answered.");
        var reply = error.ToReply(Stanza);
        if (ToWasImplicit) reply.RemoveAttribute("from");
        Server.Router.DeliverFromServer(reply, From);
    }

    public void ReplyError(StanzaErrorCondition condition, string? text = null) => ReplyError(StanzaError.Of(condition, text));
}

public delegate ValueTask IqHandler(IqRequest request);
