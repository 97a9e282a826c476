using System.Buffers;
using Tendril.Protocol;
using Tendril.Xml;

namespace Tendril.Server.Streams;

/// <summary>Synchronous access to the outbound queue for the routing micro-benchmarks (bench/Tendril.Benchmarks).</summary>
public sealed partial class C2sStream
{
    /// <summary>
    /// Takes every queued stanza and serializes it into <paramref name="output"/> as the writer loop would (or only
    /// dequeues it when <paramref name="output"/> is null). Only for streams whose writer loop is not running.
    /// </summary>
    internal int DrainOutbound(IBufferWriter<byte>? output)
    {
        if (_writerStarted) throw new InvalidOperationException("The writer loop owns the queue.");
        var count = 0;
        while (_outbound.TryRead(out var item))
        {
            switch (item.Kind)
            {
                case OutboundKind.Routed or OutboundKind.Own:
                    if (output is not null) XmlWriter.Write(output, (XmlElement)item.Payload!, Ns.Client);
                    break;
                case OutboundKind.Serialized:
                    if (output is not null) ((Routing.SerializedStanza)item.Payload!).WriteTo(output, item.To!);
                    break;
                default:
                    continue;
            }
            UncountQueued(item);
            count++;
        }
        return count;
    }
}
