namespace Tendril.Server.Features;

/// <summary>
/// A feature with background work to finish at a graceful stop (the MAM archive writer): <see cref="StopAsync"/> runs
/// after every stream and session ended (nothing more is routed), before the host closes storage.
/// </summary>
public interface IStoppableFeature
{
    Task StopAsync();
}
