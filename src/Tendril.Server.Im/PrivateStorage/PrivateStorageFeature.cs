using Tendril.Server.Configuration;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.PrivateStorage;

/// <summary>
/// Private XML storage (XEP-0049, jabber:iq:private): an account's own resources store and read one XML element per
/// namespace (store <c>private</c>, key = namespace). Someone else's storage: forbidden; no child: not-acceptable
/// (§2.3 "MUST"); a get naming more than one namespace: bad-request; the reserved namespaces (<c>jabber:*</c>,
/// <c>http://jabber.org/*</c>, <c>vcard-temp</c>): not-acceptable, as §2.3 allows. A get of a namespace with nothing
/// stored returns the empty element it asked for.
/// </summary>
public sealed class PrivateStorageFeature : IServerFeature
{
    public const string Namespace = "jabber:iq:private";
    internal const string Store = AccountStores.PrivateXml;

    public void Register(FeatureRegistry registry)
    {
        registry.AddDiscoFeature(Namespace);
        registry.HandleIq("query", Namespace, HandleAsync, IqTarget.Account);
    }

    private static async ValueTask HandleAsync(IqRequest request)
    {
        if (request.To != request.From.Bare || request.Origin is null)
        {
            request.ReplyError(StanzaErrorCondition.Forbidden);
            return;
        }
        var children = new List<XmlElement>();
        foreach (var child in request.Payload.Elements()) children.Add(child);
        if (children.Count == 0)
        {
            request.ReplyError(StanzaErrorCondition.NotAcceptable, "Name the namespace of the private data.");
            return;
        }
        foreach (var child in children)
        {
            if (IsReserved(child.Namespace))
            {
                request.ReplyError(StanzaErrorCondition.NotAcceptable, $"The namespace '{child.Namespace}' is reserved.");
                return;
            }
        }
        var user = request.To;
        var data = request.Server.Storage.AccountData;
        if (request.IsGet)
        {
            if (children.Count != 1)
            {
                request.ReplyError(StanzaErrorCondition.BadRequest, "Ask for one namespace at a time.");
                return;
            }
            var asked = children[0];
            var stored = await data.GetAsync(user.Domain, user.Local!, Store, asked.Namespace).ConfigureAwait(false);
            var element = stored is null ? null : StoredStanza.Parse(stored);
            if (element is not null) element.Namespace = asked.Namespace;
            request.Reply(new XmlElement("query", Namespace).Add(element ?? new XmlElement(asked.Name, asked.Namespace)));
            return;
        }
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var child in children) entries[child.Namespace] = StoredStanza.Serialize(child);
        var max = request.Server.Options.PrivateStorage.MaxNamespaces;
        var count = max > 0 ? await data.CountAsync(user.Domain, user.Local!, Store).ConfigureAwait(false) : 0;
        if (max > 0 && count + entries.Count > max)
        {
            // Near the cap: only namespaces not stored yet count (a replacement adds nothing).
            var added = 0;
            foreach (var ns in entries.Keys)
            {
                if (await data.GetAsync(user.Domain, user.Local!, Store, ns).ConfigureAwait(false) is null) added++;
            }
            if (count + added > max)
            {
                request.ReplyError(StanzaErrorCondition.PolicyViolation, $"At most {max} namespaces of private data per account.");
                return;
            }
        }
        if (!await data.SetAsync(user.Domain, user.Local!, Store, entries).ConfigureAwait(false))
        {
            request.ReplyError(StanzaErrorCondition.ServiceUnavailable);
            return;
        }
        request.Reply();
        foreach (var observer in request.Server.ServerFeatures.OfType<IPrivateStorageObserver>())
        {
            foreach (var child in children) await observer.OnPrivateSetAsync(user, child).ConfigureAwait(false);
        }
    }

    private static bool IsReserved(string ns) =>
        ns.Length == 0 || ns.StartsWith("jabber:", StringComparison.Ordinal) || ns.StartsWith("http://jabber.org/", StringComparison.Ordinal) || ns == "vcard-temp";
}
