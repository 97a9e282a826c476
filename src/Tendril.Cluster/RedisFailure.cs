using Tendril.Redis;

namespace Tendril.Cluster;

internal static class RedisFailure
{
    /// <summary>Redis unreachable, too slow, or refusing the command: the cluster degrades, the node goes on.</summary>
    public static bool Is(Exception e) => e is RedisConnectionException or RedisTimeoutException or RedisServerException;
}
