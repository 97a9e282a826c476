using Tendril.Server.Configuration;

namespace Tendril.Server.Features;

/// <summary>
/// A feature that applies part of a reloaded configuration itself (e.g. pubsub services added or removed). Called
/// by <see cref="XmppServer.Reload"/> after the new options are in force, on the reloading thread; must not throw
/// for a valid configuration. Features that only read <see cref="XmppServer.Options"/> at use time need nothing.
/// </summary>
public interface IReloadableFeature
{
    void OnReload(TendrilOptions options);
}
