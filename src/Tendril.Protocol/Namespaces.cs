namespace Tendril.Protocol;

/// <summary>XML namespaces of the XMPP core and the XEPs the server speaks.</summary>
public static class Ns
{
    public const string Client = "jabber:client";
    public const string Server = "jabber:server";
    public const string Streams = "http://etherx.jabber.org/streams";
    public const string StreamErrors = "urn:ietf:params:xml:ns:xmpp-streams";
    public const string Stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
    public const string Tls = "urn:ietf:params:xml:ns:xmpp-tls";
    public const string Sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
    public const string Bind = "urn:ietf:params:xml:ns:xmpp-bind";
    public const string Session = "urn:ietf:params:xml:ns:xmpp-session";
    public const string Framing = "urn:ietf:params:xml:ns:xmpp-framing";
    public const string DiscoInfo = "http://jabber.org/protocol/disco#info";
    public const string DiscoItems = "http://jabber.org/protocol/disco#items";
    public const string Ping = "urn:xmpp:ping";
    public const string Version = "jabber:iq:version";
    public const string Roster = "jabber:iq:roster";
    public const string Delay = "urn:xmpp:delay";
    public const string StreamManagement = "urn:xmpp:sm:3";
    public const string Csi = "urn:xmpp:csi:0";
}
