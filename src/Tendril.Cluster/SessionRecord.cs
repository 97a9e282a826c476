using System.Buffers;
using System.Globalization;
using System.Text;
using Tendril.Protocol;
using Tendril.Server.Routing;
using Tendril.Xml;

namespace Tendril.Cluster;

/// <summary>
/// One routing-table entry: <c>node \t priority \t available(0|1) \t last broadcast presence (XML, may be empty)</c>,
/// then, when the session sent directed presence, <c>\0</c> and the JIDs it went to, separated by <c>\0</c> (a character
/// neither XML nor a JID can contain).
/// </summary>
internal readonly record struct SessionRecord(string Node, int Priority, bool Available, string PresenceXml, string DirectedTo = "")
{
    public static SessionRecord Of(string node, C2sSession session) =>
        new(node, session.Priority, session.IsAvailable, session.IsAvailable && session.LastPresence is { } p ? XmlWriter.ToXmlString(p) : "",
            string.Join('\0', session.DirectedPresence()));

    public string Encode() => DirectedTo.Length == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{Node}\t{Priority}\t{(Available ? '1' : '0')}\t{PresenceXml}")
        : string.Create(CultureInfo.InvariantCulture, $"{Node}\t{Priority}\t{(Available ? '1' : '0')}\t{PresenceXml}\0{DirectedTo}");

    /// <summary>The entities the session sent directed available presence to.</summary>
    public IEnumerable<Jid> DirectedJids()
    {
        if (DirectedTo.Length == 0) yield break;
        foreach (var part in DirectedTo.Split('\0'))
        {
            if (Jid.TryParse(part, out var jid)) yield return jid;
        }
    }

    public static bool TryDecode(string text, out SessionRecord record)
    {
        record = default;
        var t1 = text.IndexOf('\t');
        if (t1 < 0) return false;
        var t2 = text.IndexOf('\t', t1 + 1);
        if (t2 < 0) return false;
        var t3 = text.IndexOf('\t', t2 + 1);
        if (t3 < 0) return false;
        if (!int.TryParse(text.AsSpan(t1 + 1, t2 - t1 - 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var priority)) return false;
        var zero = text.IndexOf('\0', t3 + 1);
        record = zero < 0
            ? new SessionRecord(text[..t1], priority, text[t2 + 1] == '1', text[(t3 + 1)..])
            : new SessionRecord(text[..t1], priority, text[t2 + 1] == '1', text[(t3 + 1)..zero], text[(zero + 1)..]);
        return true;
    }
}

/// <summary>Parses one stanza written by <see cref="XmlWriter"/> (with its namespace declared).</summary>
internal static class StanzaBytes
{
    private static readonly XmlParserOptions s_options = new() { FragmentMode = true, MaxStanzaBytes = 16 * 1024 * 1024, MaxDepth = 256, MaxAttributes = 1024 };

    public static XmlElement? Parse(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.IsEmpty) return null;
        var parser = new XmlStreamParser(s_options);
        var buffer = new ReadOnlySequence<byte>(bytes);
        try
        {
            if (parser.TryRead(ref buffer, out var ev) && ev.Kind == XmlStreamEventKind.Stanza && ev.Element is { } element)
            {
                if (element.Namespace.Length == 0) element.Namespace = Tendril.Protocol.Ns.Client;
                return element;
            }
        }
        catch (XmlParseException)
        {
        }
        return null;
    }

    public static XmlElement? Parse(string text) => text.Length == 0 ? null : Parse(Encoding.UTF8.GetBytes(text));
}
