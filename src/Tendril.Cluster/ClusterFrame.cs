using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Tendril.Cluster;

/// <summary>What a record on a node channel asks the receiving node to do.</summary>
internal enum RecordKind : byte
{
    /// <summary>Deliver the stanza (payload) to the local session bound to the target full JID.</summary>
    Deliver = 1,

    /// <summary>The target full JID was bound on another node: close the local session with a conflict stream error.</summary>
    Replace = 2,

    /// <summary>An account event (payload = name NUL xml) for the local sessions of the target bare JID.</summary>
    AccountEvent = 3,

    /// <summary>
    /// The target node was declared dead and purged: drop its sessions from the replica now. Sent by the node that won
    /// the purge ahead of the unavailable presences it sends for the dead node's users, on the same channel, so a
    /// contact who sees them gone and writes at once is not routed to the dead node by a replica the events channel
    /// (another subscription, not ordered with this one) has not caught up yet.
    /// </summary>
    NodeGone = 4,

    /// <summary>
    /// First in every frame: the sender's node id (target) and payload <c>stream:i64 sequence:i64</c> — the batch's
    /// number in the sender's outbox stream to this node, 0 when the frame holds only acknowledgements.
    /// </summary>
    Batch = 5,

    /// <summary>
    /// The sending node (target) handled the receiver's batches up to a sequence number: payload
    /// <c>stream:i64 sequence:i64 incarnation:i64</c> (the sender's process, so the receiver notices a restart).
    /// </summary>
    Ack = 6,
}

[Flags]
internal enum RecordFlags : byte
{
    None = 0,

    /// <summary>Set 'to' to the session's full JID before delivery (broadcast presence, pubsub notifications).</summary>
    AddressToTarget = 1,
}

/// <summary>
/// A message on a node channel: records back to back, each
/// <c>kind:u8 flags:u8 targetLength:u16 target:utf8 payloadLength:i32 payload</c> (big-endian). A batch of records
/// is one PUBLISH; Redis delivers a channel's messages in order, and the receiver handles records in order.
/// </summary>
internal static class ClusterFrame
{
    public static void Write(IBufferWriter<byte> output, RecordKind kind, RecordFlags flags, string target, ReadOnlySpan<byte> payload)
    {
        var targetLength = Encoding.UTF8.GetByteCount(target);
        var span = output.GetSpan(8 + targetLength);
        span[0] = (byte)kind;
        span[1] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(span[2..], (ushort)targetLength);
        Encoding.UTF8.GetBytes(target, span[4..]);
        BinaryPrimitives.WriteInt32BigEndian(span[(4 + targetLength)..], payload.Length);
        output.Advance(8 + targetLength);
        output.Write(payload);
    }

    /// <summary>Reads the next record; false at the end or on a malformed frame.</summary>
    public static bool TryRead(ref ReadOnlyMemory<byte> frame, out RecordKind kind, out RecordFlags flags, out string target, out ReadOnlyMemory<byte> payload)
    {
        kind = 0;
        flags = 0;
        target = "";
        payload = default;
        var span = frame.Span;
        if (span.Length < 8) return false;
        kind = (RecordKind)span[0];
        flags = (RecordFlags)span[1];
        int targetLength = BinaryPrimitives.ReadUInt16BigEndian(span[2..]);
        if (span.Length < 8 + targetLength) return false;
        target = Encoding.UTF8.GetString(span.Slice(4, targetLength));
        var payloadLength = BinaryPrimitives.ReadInt32BigEndian(span[(4 + targetLength)..]);
        if (payloadLength < 0 || span.Length < 8 + targetLength + payloadLength) return false;
        payload = frame.Slice(8 + targetLength, payloadLength);
        frame = frame[(8 + targetLength + payloadLength)..];
        return true;
    }
}
