using System.Collections.Concurrent;
using System.Net;
using Tendril.Server.Configuration;
using Tendril.Server.Transport;

namespace Tendril.Server.Security;

/// <summary>What a login attempt from a source for an account must do first.</summary>
/// <param name="BannedFor">Non-zero: the source is banned for this long; refuse without checking the password.</param>
/// <param name="Delay">Wait this long before checking the password (zero for a source with no recent failures).</param>
public readonly record struct LoginVerdict(TimeSpan BannedFor, TimeSpan Delay)
{
    public bool Banned => BannedFor > TimeSpan.Zero;
}

/// <summary>
/// Failed password checks on every surface (c2s SASL, the admin page and API, the pubsub HTTP API), counted per source
/// (an IPv4 address, an IPv6 /64) and per account (issue 19). A source's attempts slow down exponentially after
/// <c>Sasl:FailuresBeforeDelay</c> failures and it is banned for <c>Sasl:BanMinutes</c> after
/// <c>Sasl:FailuresBeforeBan</c> (ejabberd's mod_fail2ban defaults: 20 → 1 h). An account only slows down attempts
/// from sources that have failed before, so an attacker guessing elsewhere cannot lock its owner out. Loopback sources
/// are exempt from the per-source count unless <c>Limits:LimitLoopbackPerAddress</c> (a proxy on the host brings every
/// client from there); the per-account count applies to them. Failures are forgotten a ban period after the last one.
/// </summary>
public sealed class LoginThrottle(TimeProvider time, Func<TendrilOptions> options)
{
    /// <summary>Tracked sources and accounts beyond which expired records are swept (at most every 10 s).</summary>
    private const int SweepAbove = 50_000;

    /// <summary>Beyond this many records no new one is made (memory stays bounded under a flood of names or sources).</summary>
    private const int MaxRecords = 200_000;

    private long _lastSweepTicks;

    /// <summary>An account with this many failures in the window delays attempts from failing sources by this much.</summary>
    private static readonly TimeSpan AccountDelay = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(8);

    private readonly ConcurrentDictionary<ConnectionGate.AddressKey, Record> _sources = new();
    private readonly ConcurrentDictionary<string, Record> _accounts = new(StringComparer.Ordinal);

    private sealed class Record
    {
        public int Failures;
        public long LastTicks;
        public long BannedUntilTicks;
    }

    public int TrackedSources => _sources.Count;

    public LoginVerdict Check(IPAddress? source, string? account)
    {
        var sasl = options().Sasl;
        var now = time.GetUtcNow().UtcTicks;
        var window = Window(sasl);
        var sourceFailures = 0;
        if (Key(source) is { } key && _sources.TryGetValue(key, out var record))
        {
            lock (record)
            {
                if (record.BannedUntilTicks > now) return new LoginVerdict(TimeSpan.FromTicks(record.BannedUntilTicks - now), TimeSpan.Zero);
                if (now - record.LastTicks <= window) sourceFailures = record.Failures;
            }
        }
        var delay = TimeSpan.Zero;
        if (sourceFailures >= sasl.FailuresBeforeDelay)
        {
            var doublings = Math.Min(sourceFailures - sasl.FailuresBeforeDelay, 10);
            delay = TimeSpan.FromMilliseconds(Math.Min(MaxDelay.TotalMilliseconds, 100 * (1 << doublings)));
        }
        // A source counts as failing for the account rule when it failed recently, or when it is not counted (loopback).
        var failing = sourceFailures > 0 || Key(source) is null;
        if (failing && account is not null && sasl.FailuresBeforeBan > 0 && _accounts.TryGetValue(account, out var acc))
        {
            lock (acc)
            {
                if (now - acc.LastTicks <= window && acc.Failures >= sasl.FailuresBeforeBan && delay < AccountDelay) delay = AccountDelay;
            }
        }
        return new LoginVerdict(TimeSpan.Zero, delay);
    }

    /// <summary>A wrong password (or an unknown account) from <paramref name="source"/>.</summary>
    /// <returns>True when this failure banned the source.</returns>
    public bool Failed(IPAddress? source, string? account)
    {
        var sasl = options().Sasl;
        var now = time.GetUtcNow().UtcTicks;
        var window = Window(sasl);
        if (_sources.Count + _accounts.Count > SweepAbove && now - Interlocked.Read(ref _lastSweepTicks) > TimeSpan.TicksPerSecond * 10)
        {
            Interlocked.Exchange(ref _lastSweepTicks, now);
            Sweep(now, window);
        }
        var full = _sources.Count + _accounts.Count >= MaxRecords;
        var banned = false;
        if (Key(source) is { } key && (full ? _sources.GetValueOrDefault(key) : _sources.GetOrAdd(key, static _ => new Record())) is { } record)
        {
            lock (record)
            {
                if (now - record.LastTicks > window) record.Failures = 0;
                record.Failures++;
                record.LastTicks = now;
                if (sasl.FailuresBeforeBan > 0 && record.Failures >= sasl.FailuresBeforeBan)
                {
                    record.BannedUntilTicks = now + window;
                    record.Failures = 0;
                    banned = true;
                }
            }
        }
        if (account is not null && (full ? _accounts.GetValueOrDefault(account) : _accounts.GetOrAdd(account, static _ => new Record())) is { } acc)
        {
            lock (acc)
            {
                if (now - acc.LastTicks > window) acc.Failures = 0;
                acc.Failures++;
                acc.LastTicks = now;
            }
        }
        return banned;
    }

    /// <summary>A password was right: the source's failures are forgotten (the account's stay: others may be guessing).</summary>
    public void Succeeded(IPAddress? source)
    {
        if (Key(source) is { } key && _sources.TryGetValue(key, out var record))
        {
            lock (record)
            {
                if (record.BannedUntilTicks == 0) record.Failures = 0;
            }
        }
    }

    private ConnectionGate.AddressKey? Key(IPAddress? source)
    {
        if (source is null) return null;
        var a = source.IsIPv4MappedToIPv6 ? source.MapToIPv4() : source;
        if (IPAddress.IsLoopback(a) && !options().Limits.LimitLoopbackPerAddress) return null;
        return ConnectionGate.AddressKey.From(a);
    }

    private static long Window(SaslOptions sasl) => TimeSpan.FromMinutes(sasl.BanMinutes).Ticks;

    private void Sweep(long now, long window)
    {
        foreach (var (key, record) in _sources)
        {
            bool expired;
            lock (record) expired = now - record.LastTicks > window && record.BannedUntilTicks <= now;
            if (expired) _sources.TryRemove(key, out _);
        }
        foreach (var (key, record) in _accounts)
        {
            bool expired;
            lock (record) expired = now - record.LastTicks > window;
            if (expired) _accounts.TryRemove(key, out _);
        }
    }

    /// <summary>"192.0.2.7:5222" or "[2001:db8::1]:5222" as an address; null when it is not one (an in-memory test stream).</summary>
    public static IPAddress? ParseEndPoint(string? endPoint) =>
        endPoint is not null && IPEndPoint.TryParse(endPoint, out var ep) ? ep.Address : null;
}
