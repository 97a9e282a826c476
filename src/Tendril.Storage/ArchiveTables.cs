namespace Tendril.Storage;

/// <summary>
/// Where an archive store keeps its messages (internal to the backends): accounts' archives in <c>archive_messages</c>
/// owned by <c>accounts</c>, rooms' in <c>muc_archive</c> owned by <c>muc_rooms</c> (the same columns; the owner key
/// is (service, room name) there). Only accounts have archiving preferences.
/// </summary>
public sealed record ArchiveTables(string Messages, string Owners, string OwnerDomain, string OwnerName, bool Preferences)
{
    public static ArchiveTables Accounts { get; } = new("archive_messages", "accounts", "domain", "username", Preferences: true);

    public static ArchiveTables Rooms { get; } = new("muc_archive", "muc_rooms", "service", "name", Preferences: false);
}
