namespace Tendril.Redis.Internal;

/// <summary>
/// A command (or a MULTI…EXEC block) written to a connection and waiting for its replies, which arrive in the order
/// commands were written. It is its own completion source: one allocation besides the returned task.
/// </summary>
internal sealed class PendingCommand : TaskCompletionSource<RedisResult>
{
    private int _remaining;
    private RedisResult? _queueError;

    public PendingCommand(int replies, PendingKind kind)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        _remaining = replies;
        Kind = kind;
    }

    public PendingKind Kind { get; }

    /// <summary>Stopwatch timestamp of the write; the command's deadline is this plus the command timeout.</summary>
    public long WrittenAt { get; set; }

    /// <summary>Takes one reply; true when the command is complete and can leave the queue.</summary>
    public bool OnReply(RedisResult reply)
    {
        if (--_remaining > 0)
        {
            // MULTI's +OK and each command's +QUEUED; a command refused while queueing makes EXEC fail with EXECABORT.
            if (reply.Kind == RedisResultKind.Error) _queueError ??= reply;
            return false;
        }
        switch (Kind)
        {
            case PendingKind.Transaction when reply.Kind == RedisResultKind.Error:
                var message = reply.AsString() + (_queueError is null ? "" : " (" + _queueError.AsString() + ")");
                TrySetException(new RedisServerException(message));
                break;
            case PendingKind.Transaction when reply.Kind != RedisResultKind.Array || reply.IsNull:
                // A null EXEC reply means a WATCHed key changed; this client issues no WATCH.
                TrySetException(new RedisServerException("Transaction aborted (EXEC returned " + reply + ")."));
                break;
            case PendingKind.Command when reply.Kind == RedisResultKind.Error:
                TrySetException(new RedisServerException(reply.AsString() ?? "ERR"));
                break;
            default:
                TrySetResult(reply);
                break;
        }
        return true;
    }
}

internal enum PendingKind : byte
{
    /// <summary>An error reply fails the task with <see cref="RedisServerException"/>.</summary>
    Command,

    /// <summary>An error reply is the result (EVALSHA's NOSCRIPT is handled by the caller).</summary>
    RawCommand,

    /// <summary>MULTI, the queued commands and EXEC; the result is EXEC's array.</summary>
    Transaction,
}
