namespace Tendril.Storage;

/// <summary>Which way an archived message went, seen from the archive's owner.</summary>
public enum ArchiveDirection
{
    /// <summary>Received by the owner.</summary>
    Incoming = 0,

    /// <summary>Sent by the owner.</summary>
    Outgoing = 1,
}

/// <summary>
/// One archived message (XEP-0313). <paramref name="Id"/> is the server-generated archive id (unique per account,
/// stable); <paramref name="With"/> the other party's JID as it appeared (full or bare), <paramref name="Stanza"/> the
/// whole message as XML text.
/// </summary>
public sealed record ArchivedMessage(string Id, DateTimeOffset Timestamp, string With, ArchiveDirection Direction, string Stanza)
{
    /// <summary>The bare JID of <see cref="With"/> (what the <c>with</c> filter on a bare JID matches).</summary>
    public string WithBare => With.IndexOf('/', StringComparison.Ordinal) is var slash and >= 0 ? With[..slash] : With;
}

/// <summary>One row of a batch append: <paramref name="Message"/> for the archive of <paramref name="Username"/>@<paramref name="Domain"/>.</summary>
public readonly record struct ArchiveAppend(string Domain, string Username, ArchivedMessage Message);

/// <summary>
/// A query against one account's archive: the filters (all optional) and an XEP-0059 page request.
/// </summary>
public sealed record ArchiveQuery
{
    /// <summary>Only messages with this JID: a bare JID matches every resource of it, a full JID only that resource.</summary>
    public string? With { get; init; }

    /// <summary>Only messages archived at or after this instant.</summary>
    public DateTimeOffset? Start { get; init; }

    /// <summary>Only messages archived at or before this instant.</summary>
    public DateTimeOffset? End { get; init; }

    /// <summary>Only messages archived after the one with this id (exclusive).</summary>
    public string? AfterId { get; init; }

    /// <summary>Only messages archived before the one with this id (exclusive).</summary>
    public string? BeforeId { get; init; }

    /// <summary>Only these messages (null: no restriction).</summary>
    public IReadOnlyCollection<string>? Ids { get; init; }

    /// <summary>The page size (0: no items, only the count).</summary>
    public int Max { get; init; } = 50;

    /// <summary>RSM &lt;after/&gt;: the page following this id.</summary>
    public string? After { get; init; }

    /// <summary>RSM &lt;before/&gt;: the page preceding this id; the empty string asks for the last page.</summary>
    public string? Before { get; init; }
}

public enum ArchiveQueryStatus
{
    Ok,

    /// <summary>An id named by after/before/after-id/before-id is not in the archive (XEP-0313 §4.3.2: item-not-found).</summary>
    ItemNotFound,
}

/// <summary>
/// A page of results in archive order. <paramref name="Complete"/>: the page reaches the end of the result set in the
/// direction of paging (the last item when paging forwards, the first when paging backwards);
/// <paramref name="Count"/>: how many messages match the filters in all.
/// </summary>
public sealed record ArchivePage(ArchiveQueryStatus Status, IReadOnlyList<ArchivedMessage> Items, bool Complete, int Count);

/// <summary>The default of an account's archiving preferences (XEP-0313 §6).</summary>
public enum ArchiveDefault
{
    Always,
    Never,
    Roster,
}

/// <summary>An account's archiving preferences: the default and bare JIDs always or never archived.</summary>
public sealed record ArchivePreferences(ArchiveDefault Default, IReadOnlyList<string> Always, IReadOnlyList<string> Never)
{
    public static ArchivePreferences Initial { get; } = new(ArchiveDefault.Always, [], []);
}

/// <summary>
/// Message archives per account (XEP-0313), kept in archive order. Rows go with the account.
/// </summary>
public interface IArchiveStore
{
    /// <summary>Appends a message to the account's archive; false when the account does not exist (nothing is written).</summary>
    ValueTask<bool> AppendAsync(string domain, string username, ArchivedMessage message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends <paramref name="batch"/> in order, in one storage call (one transaction); a row whose account does not
    /// exist is skipped, as by <see cref="AppendAsync"/>, and so is a row whose id is already in its account's archive
    /// (a retry of a batch whose commit went through but whose answer was lost writes each row once). Returns how many
    /// rows were written. All or nothing on failure; <see cref="StorageException.IsPermanent"/> tells a failure that
    /// retrying cannot mend.
    /// </summary>
    ValueTask<int> AppendBatchAsync(IReadOnlyList<ArchiveAppend> batch, CancellationToken cancellationToken = default);

    /// <summary>Runs a query: filters, then the page (after/before/last page), the total count and whether it is complete.</summary>
    ValueTask<ArchivePage> QueryAsync(string domain, string username, ArchiveQuery query, CancellationToken cancellationToken = default);

    /// <summary>The account's preferences, or null when none were ever set.</summary>
    ValueTask<ArchivePreferences?> GetPreferencesAsync(string domain, string username, CancellationToken cancellationToken = default);

    /// <summary>Replaces the account's preferences; false when the account does not exist.</summary>
    ValueTask<bool> SetPreferencesAsync(string domain, string username, ArchivePreferences preferences, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the stored stanza of one archived message, keeping its id, stamp and place (a tombstone for a retracted
    /// message, XEP-0424/XEP-0425); false when the archive has no message with that id.
    /// </summary>
    ValueTask<bool> ReplaceAsync(string domain, string username, string id, string stanza, CancellationToken cancellationToken = default);

    /// <summary>Deletes every message (of every account) archived before <paramref name="cutoff"/>; returns how many.</summary>
    ValueTask<int> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken = default);
}
