using Tendril.Server.Configuration;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Server.Routing;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.VCard;

/// <summary>
/// vcard-temp (XEP-0054) and vCard-based avatars (XEP-0153). Anyone may read an account's vCard (an empty vCard when
/// none is stored, §3.1); only the account's own resources may set it (forbidden otherwise), up to
/// <c>Tendril:VCard:MaxBytes</c> (not-acceptable beyond). The vCard is stored per account (store <c>vcard</c>).
/// For avatars, the server keeps the SHA-1 of the stored PHOTO/BINVAL of online accounts and writes it into the
/// <c>&lt;x xmlns='vcard-temp:x:update'&gt;&lt;photo&gt;</c> of their available presence (an empty photo when the
/// vCard has no photo), adding the element when the client left it out or sent it empty ("not ready to advertise").
/// Accounts without a stored vCard are left alone: the server does not know their avatar.
/// </summary>
public sealed class VCardFeature : IServerFeature, IVCardPhotos
{
    public const string Namespace = AccountStores.VCardNamespace;
    public const string UpdateNamespace = "vcard-temp:x:update";
    internal const string Store = "vcard";

    private XmppServer _server = null!;
    // Bare JID of an online account -> hex SHA-1 of its photo ("" for none); absent when no vCard is stored.
    private readonly ConcurrentDictionary<Jid, string> _photoHashes = new(BareJidComparer.Instance);

    public void Register(FeatureRegistry registry)
    {
        _server = registry.Server;
        registry.AddDiscoFeature(Namespace);
        registry.HandleIq("vCard", Namespace, HandleAsync, IqTarget.Account);
        registry.AddOutboundFilter(StanzaKinds.Presence, StanzaStage.Stamp, StampPresence);
        registry.SessionBound += LoadHashAsync;
        registry.SessionClosed += session =>
        {
            if (!_server.Delivery.IsBoundHere(session.Jid)) _photoHashes.TryRemove(session.Jid.Bare, out _);
            return ValueTask.CompletedTask;
        };
        _server.Cluster.OnAccountEvent(ClusterEvent, OnHashChangedElsewhere);
        _server.Cluster.EventsMissed += () => _ = ReloadHashesAsync();
    }

    /// <summary>After missed events: every online account's hash read again from the store.</summary>
    private async Task ReloadHashesAsync()
    {
        var seen = new HashSet<Jid>(BareJidComparer.Instance);
        foreach (var session in _server.Sessions.All())
        {
            if (!seen.Add(session.Jid)) continue;
            try
            {
                var user = session.Jid.Bare;
                if (await ReadHashAsync(user).ConfigureAwait(false) is { } hash) _photoHashes[user] = hash;
                else _photoHashes.TryRemove(user, out _);
            }
            catch (StorageException)
            {
                // Keep the copy: the store is unreachable, and the next vCard change or login reads it again.
            }
        }
    }

    // The account's sessions on other nodes stamp their presence from their node's copy of the hash: a change goes to
    // those nodes (an account event reaches exactly the nodes holding a session of the account).
    private const string ClusterEvent = "vcard-hash";
    private const string ClusterNamespace = "urn:tendril:cluster:vcard";

    /// <summary>The account's photo hash changed here ("" no photo, null no usable vCard): this node's copy and the others'.</summary>
    private void SetHash(Jid user, string? hash)
    {
        if (hash is not null) _photoHashes[user] = hash;
        else _photoHashes.TryRemove(user, out _);
        var payload = new XmlElement("hash", ClusterNamespace);
        if (hash is not null) payload.SetAttribute("value", hash);
        _server.Cluster.SendAccountEvent(user, ClusterEvent, payload);
    }

    private ValueTask OnHashChangedElsewhere(Jid account, XmlElement payload)
    {
        if (!_server.Delivery.IsBoundHere(account)) return ValueTask.CompletedTask; // no copy kept without a session here
        if (payload.GetAttribute("value") is { } hash) _photoHashes[account.Bare] = hash;
        else _photoHashes.TryRemove(account.Bare, out _);
        return ValueTask.CompletedTask;
    }

    private async ValueTask LoadHashAsync(C2sSession session)
    {
        var user = session.Jid.Bare;
        if (await ReadHashAsync(user).ConfigureAwait(false) is { } hash) _photoHashes[user] = hash;
    }

    /// <summary>The photo hash of the stored vCard (see <see cref="PhotoHash"/>); null without a usable one.</summary>
    private async ValueTask<string?> ReadHashAsync(Jid user)
    {
        var stored = await _server.Storage.AccountData.GetAsync(user.Domain, user.Local!, Store, "").ConfigureAwait(false);
        return stored is not null && StoredStanza.Parse(stored) is { } vcard ? PhotoHash(vcard) : null;
    }

    /// <summary>XEP-0153 "Inclusion of Update Data in Presence": the update child of available presence carries the hash.</summary>
    private ValueTask<StanzaFilterResult> StampPresence(C2sSession origin, XmlElement stanza, Jid? to)
    {
        if (stanza.Name != "presence" || stanza.GetAttribute("type") is not null || _photoHashes.IsEmpty) return new(StanzaFilterResult.Continue);
        if (!_photoHashes.TryGetValue(origin.Jid, out var hash)) return new(StanzaFilterResult.Continue);
        var x = stanza.Element("x", UpdateNamespace);
        if (x is null)
        {
            x = new XmlElement("x", UpdateNamespace);
            stanza.Add(x);
        }
        x.RemoveChildren();
        var photo = new XmlElement("photo", UpdateNamespace);
        if (hash.Length > 0) photo.Add(hash);
        x.Add(photo);
        return new(StanzaFilterResult.Continue);
    }

    private async ValueTask HandleAsync(IqRequest request)
    {
        var user = request.To;
        var own = user == request.From.Bare;
        if (request.IsSet)
        {
            if (!own || request.Origin is null)
            {
                request.ReplyError(StanzaErrorCondition.Forbidden, "Only the account itself may set its vCard.");
                return;
            }
            var text = StoredStanza.Serialize(request.Payload);
            if (Encoding.UTF8.GetByteCount(text) > _server.Options.VCard.MaxBytes)
            {
                request.ReplyError(StanzaErrorCondition.NotAcceptable, "The vCard is too large.");
                return;
            }
            if (!await _server.Storage.AccountData.PutAsync(user.Domain, user.Local!, Store, "", text).ConfigureAwait(false))
            {
                request.ReplyError(StanzaErrorCondition.ServiceUnavailable);
                return;
            }
            SetHash(user, PhotoHash(request.Payload));
            request.Reply();
            foreach (var observer in _server.ServerFeatures.OfType<IVCardObserver>())
                await observer.OnVCardSetAsync(user, request.Payload).ConfigureAwait(false);
            return;
        }
        var stored = await _server.Storage.AccountData.GetAsync(user.Domain, user.Local!, Store, "").ConfigureAwait(false);
        if (stored is null && !own && await _server.Storage.Accounts.FindAsync(user.Domain, user.Local!).ConfigureAwait(false) is null)
        {
            request.ReplyError(StanzaErrorCondition.ServiceUnavailable); // RFC 6121 §8.5.1: no such account
            return;
        }
        var vcard = stored is null ? null : StoredStanza.Parse(stored);
        if (vcard is not null) vcard.Namespace = Namespace;
        request.Reply(vcard ?? new XmlElement("vCard", Namespace));
    }

    /// <summary>
    /// Replaces the PHOTO of <paramref name="user"/>'s stored vCard (creating the vCard when none is stored) with
    /// <paramref name="bytes"/> of MIME type <paramref name="type"/>, or removes it when <paramref name="bytes"/> is null,
    /// and updates the photo hash stamped into the account's presence. Returns false when the vCard could not be stored.
    /// </summary>
    public async ValueTask<bool> SetPhotoAsync(Jid user, string? type, byte[]? bytes)
    {
        user = user.Bare;
        var stored = await _server.Storage.AccountData.GetAsync(user.Domain, user.Local!, Store, "").ConfigureAwait(false);
        var vcard = (stored is null ? null : StoredStanza.Parse(stored)) ?? new XmlElement("vCard", Namespace);
        vcard.Namespace = Namespace;
        var photos = new List<XmlElement>();
        foreach (var old in vcard.Elements("PHOTO", Namespace)) photos.Add(old);
        foreach (var old in photos) vcard.Remove(old);
        if (bytes is not null)
        {
            var photo = new XmlElement("PHOTO", Namespace);
            if (!string.IsNullOrEmpty(type)) photo.Add(new XmlElement("TYPE", Namespace).Add(type));
            photo.Add(new XmlElement("BINVAL", Namespace).Add(Convert.ToBase64String(bytes)));
            vcard.Add(photo);
        }
        var text = StoredStanza.Serialize(vcard);
        if (Encoding.UTF8.GetByteCount(text) > _server.Options.VCard.MaxBytes) return false;
        if (!await _server.Storage.AccountData.PutAsync(user.Domain, user.Local!, Store, "", text).ConfigureAwait(false)) return false;
        SetHash(user, bytes is null ? "" : Convert.ToHexStringLower(SHA1.HashData(bytes)));
        return true;
    }

    /// <summary>
    /// Hex SHA-1 of the decoded PHOTO/BINVAL (XEP-0153 §3.1; whitespace in the base64 is ignored), "" when the vCard has
    /// no photo, null when the BINVAL is not base64 (then the server does not claim to know the avatar).
    /// </summary>
    internal static string? PhotoHash(XmlElement vcard)
    {
        var binval = vcard.Element("PHOTO", Namespace)?.Element("BINVAL", Namespace)?.Text;
        if (string.IsNullOrWhiteSpace(binval)) return "";
        var compact = new StringBuilder(binval.Length);
        foreach (var ch in binval)
        {
            if (!char.IsWhiteSpace(ch)) compact.Append(ch);
        }
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(compact.ToString());
        }
        catch (FormatException)
        {
            return null;
        }
        return Convert.ToHexStringLower(SHA1.HashData(bytes));
    }
}
