namespace Tendril.Server.Features;

/// <summary>
/// A feature with a listener of its own (XEP-0114 components): started with the server's listeners (not for in-memory
/// servers that do not listen) and stopped first at shutdown, so its connections get <c>system-shutdown</c> too.
/// </summary>
public interface IListenerFeature
{
    void StartListening();

    /// <summary>Stops accepting and ends every connection with <c>system-shutdown</c>.</summary>
    ValueTask StopListeningAsync();
}
