namespace Tendril.Storage;

/// <summary>
/// The storage backend: one object per process, owning its connections. Later features add their stores here
/// (rosters, offline messages, archives, pubsub) so a backend implements the whole abstraction.
/// </summary>
public interface IStorage : IAsyncDisposable
{
    /// <summary>Creates or migrates the schema. Called once at start before any other call.</summary>
    ValueTask InitializeAsync(CancellationToken cancellationToken = default);

    IAccountStore Accounts { get; }

    /// <summary>Rosters and pending subscription requests (RFC 6121).</summary>
    IRosterStore Rosters { get; }

    /// <summary>Offline messages (XEP-0160).</summary>
    IOfflineStore Offline { get; }

    /// <summary>Publish-subscribe nodes, items, subscriptions and affiliations (XEP-0060).</summary>
    IPubSubStore PubSub { get; }

    /// <summary>Small per-account documents: vCards, private XML, last activity, blocklists.</summary>
    IAccountDataStore AccountData { get; }

    /// <summary>Message archives and archiving preferences (XEP-0313).</summary>
    IArchiveStore Archive { get; }

    /// <summary>Persistent group chat rooms and their affiliations (XEP-0045).</summary>
    IMucStore Muc { get; }
}

/// <summary>A storage operation failed for a reason the caller cannot fix (database down, disk full).</summary>
public sealed class StorageException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>
    /// The database answered and refused the operation itself (a constraint violated, a value it cannot take, a
    /// statement it does not know): trying the same operation again fails the same way. False for everything else —
    /// the database unreachable, restarting, failing over, out of space, busy — which may pass once it is back; a
    /// caller that keeps work for later (the archive writer) retries those and gives up only on permanent ones.
    /// </summary>
    public bool IsPermanent { get; init; }
}

/// <summary>The name of the <see cref="System.Diagnostics.Metrics.Meter"/> storage backends record their operation latency on.</summary>
public static class StorageMetrics
{
    public const string MeterName = "Tendril.Storage";
}
