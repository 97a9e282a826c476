using System.Security.Cryptography;
using System.Text;
using Tendril.Protocol;
using Tendril.Server.Features.Pep;
using Tendril.Server.Features.PubSub;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Conversion;

/// <summary>
/// User Avatar to vCard-Based Avatars Conversion (XEP-0398). When an account publishes
/// <c>urn:xmpp:avatar:metadata</c> (XEP-0084) to its PEP service, the server copies the image from
/// <c>urn:xmpp:avatar:data</c> into the vCard's PHOTO (TYPE + BINVAL), so the XEP-0153 photo hash in the account's
/// presence follows; empty metadata (avatar disabled) removes the PHOTO. When an account sets a vCard with a PHOTO, the
/// server publishes the image to <c>urn:xmpp:avatar:data</c> and its metadata (id = hex SHA-1 of the bytes, bytes, type;
/// no width/height, which the server does not know) to <c>urn:xmpp:avatar:metadata</c>. A conversion never triggers
/// the reverse conversion. Advertises <c>urn:xmpp:pep-vcard-conversion:0</c> on the account.
/// </summary>
public sealed class AvatarConversionFeature : IServerFeature, IPepObserver, IVCardObserver
{
    public const string Namespace = "urn:xmpp:pep-vcard-conversion:0";
    public const string DataNode = "urn:xmpp:avatar:data";
    public const string MetadataNode = "urn:xmpp:avatar:metadata";

    private static readonly AsyncLocal<bool> s_converting = new();
    private XmppServer _server = null!;

    public void Register(FeatureRegistry registry)
    {
        _server = registry.Server;
        registry.AddDiscoFeature(Namespace, IqTarget.Account);
    }

    private PepFeature? Pep => _server.ServerFeatures.OfType<PepFeature>().FirstOrDefault();
    private IVCardPhotos? VCards => _server.ServerFeatures.OfType<IVCardPhotos>().FirstOrDefault();

    /// <summary>PEP → vCard.</summary>
    public async ValueTask OnPepChangedAsync(Jid owner, string nodeId, XmlElement change)
    {
        if (s_converting.Value || nodeId != MetadataNode || VCards is not { } vcards || Pep is not { } pep) return;
        if (change.Element("item", PubSubNs.Event)?.Element("metadata", MetadataNode) is not { } metadata) return;
        s_converting.Value = true;
        try
        {
            XmlElement? chosen = null;
            foreach (var info in metadata.Elements("info", MetadataNode))
            {
                if (info.GetAttribute("url") is not null || info.GetAttribute("id") is not { Length: > 0 }) continue;
                if (chosen is null || info.GetAttribute("type") == "image/png") chosen = info;
            }
            if (chosen is null)
            {
                if (metadata.ElementCount == 0) await vcards.SetPhotoAsync(owner, null, null).ConfigureAwait(false); // avatar disabled
                return;
            }
            var service = pep.ServiceFor(owner);
            var items = await service.Store.GetItemsByIdAsync(owner.Bare.ToString(), DataNode, [chosen.GetAttribute("id")!]).ConfigureAwait(false);
            if (items.Count == 0 || items[0].Payload.Length == 0) return;
            var data = PayloadXml.Parse(items[0].Payload);
            if (data.Name != "data" || data.Namespace != DataNode || Decode(data.Text) is not { } bytes) return;
            await vcards.SetPhotoAsync(owner, chosen.GetAttribute("type"), bytes).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StorageException or FormatException or XmlParseException)
        {
        }
        finally
        {
            s_converting.Value = false;
        }
    }

    /// <summary>vCard → PEP.</summary>
    public async ValueTask OnVCardSetAsync(Jid user, XmlElement vcard)
    {
        if (s_converting.Value || Pep is not { } pep) return;
        var photo = vcard.Element("PHOTO", AccountStores.VCardNamespace);
        if (photo?.Element("BINVAL", AccountStores.VCardNamespace)?.Text is not { } binval || Decode(binval) is not { Length: > 0 } bytes) return;
        var type = photo.Element("TYPE", AccountStores.VCardNamespace)?.Text?.Trim();
        if (string.IsNullOrEmpty(type)) type = "image/png";
        var id = Convert.ToHexStringLower(SHA1.HashData(bytes));
        s_converting.Value = true;
        try
        {
            var owner = user.Bare;
            var service = pep.ServiceFor(owner);
            await service.PublishAsync(DataNode, owner, id, new XmlElement("data", DataNode).Add(Convert.ToBase64String(bytes))).ConfigureAwait(false);
            var metadata = new XmlElement("metadata", MetadataNode);
            metadata.Add(new XmlElement("info", MetadataNode)
                .SetAttribute("id", id)
                .SetAttribute("bytes", bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .SetAttribute("type", type));
            await service.PublishAsync(MetadataNode, owner, id, metadata).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StorageException or PubSubException)
        {
        }
        finally
        {
            s_converting.Value = false;
        }
    }

    private static byte[]? Decode(string? base64)
    {
        if (string.IsNullOrWhiteSpace(base64)) return null;
        var compact = new StringBuilder(base64.Length);
        foreach (var ch in base64)
        {
            if (!char.IsWhiteSpace(ch)) compact.Append(ch);
        }
        try
        {
            return Convert.FromBase64String(compact.ToString());
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
