namespace Tendril.Server.Security;

/// <summary>
/// A token bucket: <c>rate</c> tokens a second, at most <c>burst</c> saved up; it starts full. The caller gives the time
/// (seconds on some clock, <see cref="Seconds"/>): stanza rates follow the server's clock, the read rate the system's,
/// which its waits use.
/// One per limit per holder (a mutable struct, kept in a field and used under its holder's serialization: the stream's
/// read loop, a room's gate; no locking of its own). Also a feature's (group chat's rate per occupant).
/// </summary>
public struct TokenBucket
{
    /// <summary>A clock's time in seconds, for the calls below.</summary>
    public static double Seconds(TimeProvider time) => time.GetUtcNow().UtcTicks / (double)TimeSpan.TicksPerSecond;

    private double _tokens;
    private double _at;
    private bool _started;

    /// <summary>
    /// Takes <paramref name="amount"/> tokens, going into debt if need be; returns how long to wait until the debt is
    /// paid (zero when there was enough). Rate 0 means no limit.
    /// </summary>
    public TimeSpan Debit(double rate, double burst, double amount, double now)
    {
        if (rate <= 0) return TimeSpan.Zero;
        Refill(rate, burst, now);
        _tokens -= amount;
        return _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / rate);
    }

    /// <summary>Takes one token if there is one; false (nothing taken) when the bucket is empty. Rate 0 means no limit.</summary>
    public bool TryTake(double rate, double burst, double now)
    {
        if (rate <= 0) return true;
        Refill(rate, burst, now);
        if (_tokens < 1) return false;
        _tokens -= 1;
        return true;
    }

    private void Refill(double rate, double burst, double now)
    {
        if (!_started)
        {
            _started = true;
            _tokens = burst;
        }
        else if (now > _at)
        {
            _tokens = Math.Min(burst, _tokens + (now - _at) * rate);
        }
        _at = Math.Max(_at, now);
    }
}
