using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Features;

// Seams between features of different areas: the vCard and private-XML features (IM) tell observers of changes, and
// sets a photo for a feature that converts avatars from PEP (XEP-0398); the conversions find them through
// XmppServer.ServerFeatures, so neither project references the other.

/// <summary>A feature told when an account sets its vCard (after it was stored).</summary>
public interface IVCardObserver
{
    ValueTask OnVCardSetAsync(Jid user, XmlElement vcard);
}

/// <summary>A feature told of every element an account stores in private XML storage (after it was stored).</summary>
public interface IPrivateStorageObserver
{
    ValueTask OnPrivateSetAsync(Jid user, XmlElement element);
}

/// <summary>Sets the photo of an account's vCard (XEP-0153), implemented by the vCard feature.</summary>
public interface IVCardPhotos
{
    /// <summary>Stores <paramref name="bytes"/> (null: no photo) as the vCard's PHOTO; false when nothing changed.</summary>
    ValueTask<bool> SetPhotoAsync(Jid user, string? type, byte[]? bytes);
}

/// <summary>Names of per-account data stores and namespaces shared across feature areas.</summary>
public static class AccountStores
{
    /// <summary>The <see cref="Tendril.Storage.IAccountDataStore"/> store of private XML storage (XEP-0049).</summary>
    public const string PrivateXml = "private";

    /// <summary>The vCard namespace (XEP-0054).</summary>
    public const string VCardNamespace = "vcard-temp";
}
