namespace Tendril.Storage;

/// <summary>A message stored for an account while it had no available resource (XEP-0160).</summary>
public sealed record OfflineMessage(long Id, DateTimeOffset StoredAt, string Stanza);

public enum OfflineStoreResult
{
    Stored,

    /// <summary>The account already holds the maximum number of messages.</summary>
    QuotaExceeded,

    NoSuchAccount,
}

/// <summary>
/// Offline messages per account, kept in arrival order. Delivery is "read, deliver, then delete what was delivered",
/// so a crash between the steps delivers a message twice rather than losing it.
/// </summary>
public interface IOfflineStore
{
    /// <summary>Stores <paramref name="stanza"/> unless the account holds <paramref name="maxPerUser"/> messages already (checked atomically).</summary>
    ValueTask<OfflineStoreResult> StoreAsync(string domain, string username, string stanza, DateTimeOffset storedAt, int maxPerUser, CancellationToken cancellationToken = default);

    ValueTask<int> CountAsync(string domain, string username, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="max"/> messages, oldest first.</summary>
    ValueTask<IReadOnlyList<OfflineMessage>> ListAsync(string domain, string username, int max, CancellationToken cancellationToken = default);

    /// <summary>Deletes the given messages of the account; returns how many existed.</summary>
    ValueTask<int> DeleteAsync(string domain, string username, IReadOnlyCollection<long> ids, CancellationToken cancellationToken = default);
}
