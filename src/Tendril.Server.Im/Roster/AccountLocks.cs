using Tendril.Protocol;
using Tendril.Server.Routing;

namespace Tendril.Server.Features.Roster;

/// <summary>
/// Serializes read-modify-write of one account's roster (a subscription handshake and a roster set may race). Striped:
/// a fixed set of semaphores chosen by the bare JID's hash. Callers never hold two at once, so there is no deadlock.
/// </summary>
internal sealed class AccountLocks
{
    private readonly SemaphoreSlim[] _stripes;

    public AccountLocks(int stripes = 64)
    {
        _stripes = new SemaphoreSlim[stripes];
        for (var i = 0; i < stripes; i++) _stripes[i] = new SemaphoreSlim(1, 1);
    }

    public async ValueTask<Releaser> AcquireAsync(Jid account)
    {
        var stripe = _stripes[(BareJidComparer.Instance.GetHashCode(account) & int.MaxValue) % _stripes.Length];
        await stripe.WaitAsync().ConfigureAwait(false);
        return new Releaser(stripe);
    }

    public readonly struct Releaser(SemaphoreSlim semaphore) : IDisposable
    {
        public void Dispose() => semaphore.Release();
    }
}
