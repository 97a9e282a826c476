using Tendril.Storage;

namespace Tendril.Server.Tests.Infrastructure;

/// <summary>
/// Serves every store from <c>inner</c>; a test derives from it to replace the one store it breaks, gates or slows. The
/// inner storage belongs to whoever made it (initialized and disposed there, not here).
/// </summary>
internal class PassThroughStorage(IStorage inner) : IStorage
{
    public virtual IAccountStore Accounts => inner.Accounts;
    public virtual IRosterStore Rosters => inner.Rosters;
    public virtual IOfflineStore Offline => inner.Offline;
    public virtual IPubSubStore PubSub => inner.PubSub;
    public virtual IAccountDataStore AccountData => inner.AccountData;
    public virtual IArchiveStore Archive => inner.Archive;
    public virtual IMucStore Muc => inner.Muc;
    public ValueTask InitializeAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
