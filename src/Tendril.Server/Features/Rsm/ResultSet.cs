using System.Globalization;
using Tendril.Protocol.Errors;
using Tendril.Xml;

namespace Tendril.Server.Features.Rsm;

/// <summary>
/// A Result Set Management request (XEP-0059) as sent inside a query: <c>&lt;set xmlns='http://jabber.org/protocol/rsm'&gt;</c>
/// with optional <c>max</c>, <c>after</c>, <c>before</c> and <c>index</c>. One parser and one writer for every feature
/// that pages (MAM, pubsub items), so they validate and answer alike.
/// </summary>
/// <param name="Max">The page size asked for (§2.1), or null when the request did not say; 0 asks only for the count (§2.7).</param>
/// <param name="After">The UID the page follows (§2.2); never empty.</param>
/// <param name="Before">The UID the page precedes (§2.3); the empty string asks for the last page (§2.5).</param>
/// <param name="Index">The position of the first item wanted (§2.6), or null.</param>
public sealed record RsmRequest(int? Max, string? After, string? Before, int? Index)
{
    public const string Namespace = "http://jabber.org/protocol/rsm";

    /// <summary>No &lt;set/&gt; in the query: the feature's default page.</summary>
    public static RsmRequest None { get; } = new(null, null, null, null);

    /// <summary>&lt;before/&gt; was empty: the last page of the result set (XEP-0059 §2.5).</summary>
    public bool LastPage => Before is { Length: 0 };

    /// <summary>
    /// Reads the &lt;set/&gt; child of <paramref name="query"/> (absent: <see cref="None"/>). A malformed set is a
    /// <c>bad-request</c> (the <paramref name="error"/>): max or index that is not a non-negative integer (the XEP-0059
    /// schema types them xs:int, and a negative page size or position means nothing), or an empty &lt;after/&gt; (§2.2:
    /// it carries the UID of the last item of the previous page; only &lt;before/&gt; has an empty form, §2.5).
    /// </summary>
    public static bool TryParse(XmlElement query, out RsmRequest request, out StanzaError? error)
    {
        request = None;
        error = null;
        if (query.Element("set", Namespace) is not { } set) return true;
        int? max = null, index = null;
        if (set.Element("max", Namespace) is { } maxElement)
        {
            if (!TryParseCount(maxElement.Text, out var m))
            {
                error = StanzaError.Of(StanzaErrorCondition.BadRequest, "RSM <max/> is not a non-negative integer.");
                return false;
            }
            max = m;
        }
        if (set.Element("index", Namespace) is { } indexElement)
        {
            if (!TryParseCount(indexElement.Text, out var i))
            {
                error = StanzaError.Of(StanzaErrorCondition.BadRequest, "RSM <index/> is not a non-negative integer.");
                return false;
            }
            index = i;
        }
        var after = set.Element("after", Namespace)?.Text;
        if (after is { Length: 0 })
        {
            error = StanzaError.Of(StanzaErrorCondition.BadRequest, "RSM <after/> is empty.");
            return false;
        }
        var before = set.Element("before", Namespace)?.Text;
        request = new RsmRequest(max, after, before, index);
        return true;
    }

    private static bool TryParseCount(string text, out int value) =>
        int.TryParse(text.AsSpan().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out value);

    /// <summary>
    /// The position of the page's first item in the whole result set (the optional first@index, §2.1) when this
    /// request determines it without asking the store: 0 for the first page (no after/before). Null otherwise: after or
    /// before a UID the position is not known here, and for the last page (§2.5) it would be <c>count - items</c>, but
    /// clients that page backwards stop as soon as index + items = count (slixmpp's XEP-0059 ResultIterator does,
    /// whatever the direction), so stating it there ends their backward paging after one page.
    /// </summary>
    public int? FirstIndex() => After is null && Before is null ? 0 : null;
}

/// <summary>The &lt;set/&gt; of a result (XEP-0059 §2.1).</summary>
public static class RsmResult
{
    /// <summary>
    /// Appends <c>&lt;set&gt;&lt;first index='N'&gt;…&lt;/first&gt;&lt;last&gt;…&lt;/last&gt;&lt;count&gt;…&lt;/count&gt;&lt;/set&gt;</c>
    /// to <paramref name="parent"/>. first and last only when the page has items (§2.1: "If there are no items in the
    /// page, the first and last elements MUST NOT be included"); index only when known.
    /// </summary>
    public static XmlElement Write(XmlElement parent, string? firstId, string? lastId, int count, int? firstIndex)
    {
        var set = parent.AddElement("set", RsmRequest.Namespace);
        if (firstId is not null && lastId is not null)
        {
            var first = set.AddElement("first", RsmRequest.Namespace).Add(firstId);
            if (firstIndex is { } index) first.SetAttribute("index", index.ToString(CultureInfo.InvariantCulture));
            set.AddElement("last", RsmRequest.Namespace).Add(lastId);
        }
        set.AddElement("count", RsmRequest.Namespace).Add(count.ToString(CultureInfo.InvariantCulture));
        return set;
    }
}
