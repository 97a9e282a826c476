using Tendril.Xml;

namespace Tendril.Server.Streams.States;

/// <summary>The stream is closing: whatever still arrives is ignored.</summary>
internal sealed class ClosedState : C2sState
{
    public static ClosedState Instance { get; } = new();

    public override string Name => "Closed";

    public override ValueTask OnStreamStartAsync(C2sStream stream, XmlElement header, string defaultNamespace) => ValueTask.CompletedTask;

    public override ValueTask OnElementAsync(C2sStream stream, XmlElement element) => ValueTask.CompletedTask;
}
