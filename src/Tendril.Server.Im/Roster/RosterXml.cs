using System.Globalization;
using Tendril.Protocol;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Roster;

/// <summary>The jabber:iq:roster wire format (RFC 6121 §2.1).</summary>
internal static class RosterXml
{
    public const string VersioningFeature = "urn:xmpp:features:rosterver";
    public const string PreApprovalFeature = "urn:xmpp:features:pre-approval";

    public static string Version(long version) => version.ToString(CultureInfo.InvariantCulture);

    /// <summary>A 'ver' this server wrote: a non-negative decimal number ('' and anything else: not ours).</summary>
    public static bool TryParseVersion(string text, out long version) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out version);

    public static string SubscriptionName(RosterSubscription subscription) => subscription switch
    {
        RosterSubscription.To => "to",
        RosterSubscription.From => "from",
        RosterSubscription.Both => "both",
        _ => "none",
    };

    public static XmlElement Item(RosterItem item)
    {
        var e = new XmlElement("item", Ns.Roster).SetAttribute("jid", item.Jid);
        if (item.Name is not null) e.SetAttribute("name", item.Name);
        e.SetAttribute("subscription", SubscriptionName(item.Subscription));
        if (item.Ask) e.SetAttribute("ask", "subscribe");
        if (item.Approved) e.SetAttribute("approved", "true");
        foreach (var group in item.Groups) e.AddElement("group", Ns.Roster).Add(group);
        return e;
    }

    public static XmlElement RemovedItem(string jid) =>
        new XmlElement("item", Ns.Roster).SetAttribute("jid", jid).SetAttribute("subscription", "remove");

    /// <summary>A presence stanza the server generates on behalf of a user (subscription handshake, §3).</summary>
    public static XmlElement Presence(string type, Jid from, Jid to, string? id = null)
    {
        var p = new XmlElement("presence", Ns.Client);
        if (id is not null) p.SetAttribute("id", id);
        return p.SetAttribute("type", type).SetAttribute("from", from.ToString()).SetAttribute("to", to.ToString());
    }

    /// <summary>
    /// The outbound subscription stanza as the contact receives it: stamped with the user's bare JID and addressed to
    /// the contact's bare JID (RFC 6121 §3.1.2), with the client's id and children (status, nick) kept.
    /// </summary>
    public static XmlElement Stamp(XmlElement original, string type, Jid from, Jid to)
    {
        var p = Presence(type, from, to, original.GetAttribute("id"));
        foreach (var child in original.Children) p.Add(child);
        return p;
    }
}
