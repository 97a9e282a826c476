using System.Globalization;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Features.Rsm;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Archive;

/// <summary>A parsed XEP-0313 query: the store's filter and page, the RSM request it came from, and &lt;flip-page/&gt;.</summary>
public sealed record ArchiveRequest(ArchiveQuery Filter, RsmRequest Rsm, bool Flip, string? QueryId);

/// <summary>
/// The XEP-0313 query protocol, for every archive the server keeps (accounts' in the MAM feature, rooms' in group
/// chat): the form of §4.1.4, a query read into an <see cref="ArchiveQuery"/> (§4.1: with, start, end, before-id,
/// after-id, ids; XEP-0059 paging), and the answer written as results and &lt;fin/&gt; (§4.2, §4.3).
/// </summary>
public static class ArchiveQueries
{
    public const string Namespace = "urn:xmpp:mam:2";
    public const string ForwardNamespace = "urn:xmpp:forward:0";

    /// <summary>A page when the client names no size, and the largest it may ask for (accounts' defaults, rooms' values).</summary>
    public const int DefaultPageSize = 50, MaxPageSize = 250;

    /// <summary>The query form's fields (§4.1.4), the answer to an iq get of &lt;query/&gt;.</summary>
    public static XmlElement FormQuery() =>
        new XmlElement("query", Namespace).Add(DataForm.Build("form", Namespace, [
            new DataForm.Field("with", "jid-single", []),
            new DataForm.Field("start", "text-single", []),
            new DataForm.Field("end", "text-single", []),
            new DataForm.Field("before-id", "text-single", []),
            new DataForm.Field("after-id", "text-single", []),
            new DataForm.Field("ids", "text-multi", []),
        ]));

    /// <summary>
    /// Reads an iq set's &lt;query/&gt;. The page is <paramref name="defaultPageSize"/> unless the client asks for fewer
    /// (at most <paramref name="maxPageSize"/>); more ids than a page are refused (#extended: an explicit limit).
    /// Returns null with the error to answer.
    /// </summary>
    public static ArchiveRequest? Parse(XmlElement query, int defaultPageSize, int maxPageSize, out StanzaError? error)
    {
        error = null;
        var filter = new ArchiveQuery();
        if (DataForm.Find(query) is { } x)
        {
            var fields = DataForm.ReadSubmit(x, Namespace);
            if (fields is null)
            {
                error = StanzaError.Of(StanzaErrorCondition.BadRequest, "The form is not a submitted urn:xmpp:mam:2 form.");
                return null;
            }
            foreach (var (name, values) in fields)
            {
                var value = values.Count == 0 ? "" : values[0];
                switch (name)
                {
                    case "with":
                        if (value.Length == 0) break;
                        if (!Jid.TryParse(value, out var with) || with is null)
                        {
                            error = StanzaError.Of(StanzaErrorCondition.BadRequest, "'with' is not a JID.");
                            return null;
                        }
                        filter = filter with { With = with.ToString() };
                        break;
                    case "start" or "end":
                        if (value.Length == 0) break;
                        if (!XmppDateTime.TryParse(value, out var instant))
                        {
                            error = StanzaError.Of(StanzaErrorCondition.BadRequest, $"'{name}' is not an XEP-0082 date and time.");
                            return null;
                        }
                        filter = name == "start" ? filter with { Start = instant } : filter with { End = instant };
                        break;
                    case "before-id":
                        if (value.Length > 0) filter = filter with { BeforeId = value };
                        break;
                    case "after-id":
                        if (value.Length > 0) filter = filter with { AfterId = value };
                        break;
                    case "ids":
                        filter = filter with { Ids = values.Where(v => v.Length > 0).Distinct(StringComparer.Ordinal).ToList() };
                        break;
                    default:
                        error = StanzaError.Of(StanzaErrorCondition.FeatureNotImplemented, $"The field '{name}' is not supported.");
                        return null;
                }
            }
        }
        // XEP-0313 #extended ids: the server bounds how many ids one query names; more than a page is refused with
        // policy-violation (an explicit limit the client can act on), never cut short.
        if (filter.Ids is { } ids && ids.Count > maxPageSize)
        {
            error = StanzaError.Of(StanzaErrorCondition.PolicyViolation, $"At most {maxPageSize.ToString(CultureInfo.InvariantCulture)} ids may be requested at once.");
            return null;
        }
        if (!RsmRequest.TryParse(query, out var rsm, out var rsmError))
        {
            error = rsmError;
            return null;
        }
        if (rsm.Index is not null)
        {
            error = StanzaError.Of(StanzaErrorCondition.FeatureNotImplemented, "RSM <index/> is not supported; page with <after/> and <before/>.");
            return null;
        }
        filter = filter with { Max = Math.Min(rsm.Max ?? defaultPageSize, maxPageSize), After = rsm.After, Before = rsm.Before };
        return new ArchiveRequest(filter, rsm, query.Element("flip-page", Namespace) is not null, query.GetAttribute("queryid"));
    }

    /// <summary>
    /// The result messages of a page (§4.2), from the archive's owner <paramref name="archive"/> to
    /// <paramref name="requester"/>, each the stored stanza forwarded with its stamp; in reverse order under flip-page.
    /// </summary>
    public static IEnumerable<XmlElement> Results(ArchivePage page, ArchiveRequest request, string archive, string requester)
    {
        for (var i = 0; i < page.Items.Count; i++)
        {
            var item = page.Items[request.Flip ? page.Items.Count - 1 - i : i];
            var original = StoredStanza.Parse(item.Stanza);
            if (original is null) continue;
            var message = new XmlElement("message", Ns.Client).SetAttribute("from", archive).SetAttribute("to", requester);
            var result = message.AddElement("result", Namespace);
            if (request.QueryId is not null) result.SetAttribute("queryid", request.QueryId);
            result.SetAttribute("id", item.Id);
            var forwarded = result.AddElement("forwarded", ForwardNamespace);
            forwarded.AddElement("delay", Ns.Delay).SetAttribute("stamp", XmppDateTime.Format(item.Timestamp));
            forwarded.Add(original);
            yield return message;
        }
    }

    /// <summary>The &lt;fin/&gt; of the iq result (§4.3): complete, and the RSM set whose first/last keep archive order under flip-page.</summary>
    public static XmlElement Fin(ArchivePage page, ArchiveRequest request)
    {
        var fin = new XmlElement("fin", Namespace).SetAttribute("complete", page.Complete ? "true" : "false");
        RsmResult.Write(fin, page.Items.Count > 0 ? page.Items[0].Id : null, page.Items.Count > 0 ? page.Items[^1].Id : null,
            page.Count, request.Rsm.FirstIndex());
        return fin;
    }
}
