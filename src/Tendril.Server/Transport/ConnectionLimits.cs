using System.Globalization;
using Tendril.Server.Configuration;

namespace Tendril.Server.Transport;

/// <summary>
/// The connection limits in force, resolved from <see cref="LimitsOptions"/> against the process's descriptor limit:
/// every client connection holds a descriptor, and a process that runs out of them cannot accept, answer /health,
/// open a database file or even load an exception message — the runtime dies. So the total is kept below the limit
/// with a headroom of a tenth (at least 256) for everything else the process opens.
/// </summary>
public sealed record ConnectionLimits(int MaxConnections, int MaxUnauthenticated, int MaxPerAddress, bool LimitLoopback, long? DescriptorLimit, bool Clamped)
{
    /// <summary>
    /// The last places of <see cref="MaxConnections"/> that only the HTTP port may take (1%, 16 to 256): when XMPP
    /// connections fill the rest, /health, /metrics and the admin page still answer.
    /// </summary>
    public int HttpReserve => Math.Min(MaxConnections / 2, Math.Clamp(MaxConnections / 100, 16, 256));

    public static ConnectionLimits Resolve(LimitsOptions options) => Resolve(options, DescriptorLimits.Current);

    public static ConnectionLimits Resolve(LimitsOptions options, long? descriptorLimit)
    {
        var ceiling = int.MaxValue;
        if (descriptorLimit is { } fds)
        {
            ceiling = (int)Math.Clamp(fds - Math.Max(256, fds / 10), 16, int.MaxValue);
        }
        var total = options.MaxConnections == 0 ? (descriptorLimit is null ? 10_000 : ceiling) : Math.Min(options.MaxConnections, ceiling);
        var clamped = options.MaxConnections > ceiling;
        var unauthenticated = options.MaxUnauthenticatedConnections == 0 ? Math.Max(1, total / 4) : Math.Min(options.MaxUnauthenticatedConnections, total);
        var perAddress = options.MaxConnectionsPerAddress == 0 ? int.MaxValue : options.MaxConnectionsPerAddress;
        return new ConnectionLimits(total, unauthenticated, perAddress, options.LimitLoopbackPerAddress, descriptorLimit, clamped);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"total {MaxConnections}, unauthenticated {MaxUnauthenticated}, per address {(MaxPerAddress == int.MaxValue ? "unlimited" : MaxPerAddress.ToString(CultureInfo.InvariantCulture))}{(LimitLoopback ? "" : " (not on loopback)")}; descriptor limit {DescriptorLimit?.ToString(CultureInfo.InvariantCulture) ?? "unknown"}");
}

/// <summary>The process's open-file limit (RLIMIT_NOFILE, soft), read once from /proc/self/limits on Linux.</summary>
public static class DescriptorLimits
{
    private static readonly Lazy<long?> s_current = new(Read);

    /// <summary>The soft limit (the one that fails open/accept with EMFILE); null when unknown or unlimited.</summary>
    public static long? Current => s_current.Value;

    private static long? Read()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                // "Max open files            20000                20000                files"
                if (!line.StartsWith("Max open files", StringComparison.Ordinal)) continue;
                var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var soft) ? soft : null;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }
}
