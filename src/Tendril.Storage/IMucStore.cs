namespace Tendril.Storage;

/// <summary>
/// A persistent multi-user chat room (XEP-0045 §10.2 "persistent"): its configuration as field var → values (the
/// <c>muc#roomconfig</c> form's vars, plus the server's own keys), its subject and who set it, when it was created and
/// by whom. <paramref name="Public"/> and <paramref name="Title"/> are copies of two configuration fields kept as columns
/// so the service can list public rooms (disco#items) without loading every room.
/// </summary>
public sealed record MucRoomRecord(
    string Service,
    string Name,
    IReadOnlyDictionary<string, IReadOnlyList<string>> Config,
    bool Public,
    string? Title,
    string Creator,
    DateTimeOffset CreatedAt,
    string? Subject = null,
    string? SubjectBy = null,
    DateTimeOffset? SubjectAt = null);

/// <summary>
/// A room affiliation (XEP-0045 §5.2) of a bare JID, with the reason given when it was set and, for a registered user,
/// the nickname reserved for them (§7.10).
/// </summary>
public sealed record MucAffiliationRecord(string Jid, string Affiliation, string? Nick = null, string? Reason = null);

/// <summary>One room of a page of rooms.</summary>
public readonly record struct MucRoomListing(string Name, string? Title);

/// <summary>A page of rooms in name order, and how many there are in all.</summary>
public sealed record MucRoomPage(IReadOnlyList<MucRoomListing> Rooms, int Total);

/// <summary>
/// Persistent rooms of the group chat services (XEP-0045): a room row and its affiliations. Temporary rooms are never
/// stored. Rooms are read one at a time, when first used, so a service with many rooms starts as fast as with none.
/// </summary>
public interface IMucStore
{
    /// <summary>
    /// The rooms' message archives (XEP-0313 on the room JID): the owner is (service, room name) where an account's
    /// archive has (domain, username); a row for a room that is not stored is skipped, and a room's archive goes with
    /// the room. Rooms keep no archiving preferences.
    /// </summary>
    IArchiveStore Archive { get; }

    /// <summary>The room and its affiliations, or null when no such persistent room is stored.</summary>
    ValueTask<(MucRoomRecord Room, IReadOnlyList<MucAffiliationRecord> Affiliations)?> GetRoomAsync(string service, string name, CancellationToken cancellationToken = default);

    /// <summary>Inserts or replaces the room row (configuration, subject); its affiliations are left as they are.</summary>
    ValueTask SaveRoomAsync(MucRoomRecord room, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets affiliations of a stored room in one transaction: each record replaces the JID's row, an affiliation of
    /// "none" with no reserved nick deletes it. False when the room is not stored (nothing is written).
    /// </summary>
    ValueTask<bool> SetAffiliationsAsync(string service, string name, IReadOnlyCollection<MucAffiliationRecord> changes, CancellationToken cancellationToken = default);

    /// <summary>Deletes the room and its affiliations; false when it was not stored.</summary>
    ValueTask<bool> DeleteRoomAsync(string service, string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Rooms of the service in name order (ordinal) — the public ones only with <paramref name="publicOnly"/> — after
    /// <paramref name="after"/> when given, at most <paramref name="max"/>, and how many match in all.
    /// </summary>
    ValueTask<MucRoomPage> ListRoomsAsync(string service, string? after, int max, bool publicOnly = true, CancellationToken cancellationToken = default);

    /// <summary>How many persistent rooms of the service <paramref name="creator"/> (a bare JID) created.</summary>
    ValueTask<int> CountRoomsByCreatorAsync(string service, string creator, CancellationToken cancellationToken = default);
}
