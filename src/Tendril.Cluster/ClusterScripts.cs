using Tendril.Redis;

namespace Tendril.Cluster;

/// <summary>
/// The Lua scripts that change the routing table. Each runs atomically in Redis, bumps the global sequence, stores it as
/// the account's "#v" and publishes the account's whole new state on the events channel in the same step, so replicas
/// apply changes in the order Redis executed them. Session record: <c>node \t priority \t available(0|1) \t presence-xml</c>.
/// </summary>
internal static class ClusterScripts
{
    // Shared tail: version, publish the account's state, drop the hash when only "#v" is left.
    private const string Publish = """
        local function publish(key, bare, channel, seq)
          local v = redis.call('INCR', seq)
          redis.call('HSET', key, '#v', v)
          local all = redis.call('HGETALL', key)
          if #all <= 2 then redis.call('DEL', key) end
          redis.call('PUBLISH', channel, cjson.encode({b = bare, v = v, s = all}))
          return v
        end
        local function owner(rec)
          if not rec then return nil end
          return string.match(rec, '^([^\t]*)\t')
        end
        """;

    /// <summary>
    /// KEYS: account hash, this node's session set, sequence. ARGV: resource, record, full JID, node, events channel,
    /// bare JID, key prefix, mode (bind | update | republish). Returns the node that held the full JID before (bind), or
    /// "!lost" when update/republish found another node owning it; nil otherwise.
    /// </summary>
    public static readonly RedisScript Write = new(Publish + "\n" + """
        local old = redis.call('HGET', KEYS[1], ARGV[1])
        local was = owner(old)
        local mode = ARGV[8]
        if mode ~= 'bind' and was and was ~= ARGV[4] then return '!lost' end
        if mode == 'update' and not was then return nil end
        if was and was ~= ARGV[4] then
          redis.call('SREM', ARGV[7] .. 'node:' .. was .. ':sessions', ARGV[3])
        end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('SADD', KEYS[2], ARGV[3])
        publish(KEYS[1], ARGV[6], ARGV[5], KEYS[3])
        if was and was ~= ARGV[4] then return was end
        return nil
        """);

    /// <summary>KEYS: account hash, node session set, sequence. ARGV: resource, full JID, node, events channel, bare JID. Removes the entry only if this node still owns it.</summary>
    public static readonly RedisScript Remove = new(Publish + "\n" + """
        redis.call('SREM', KEYS[2], ARGV[2])
        local old = redis.call('HGET', KEYS[1], ARGV[1])
        if owner(old) ~= ARGV[3] then return 0 end
        redis.call('HDEL', KEYS[1], ARGV[1])
        publish(KEYS[1], ARGV[5], ARGV[4], KEYS[3])
        return 1
        """);

    /// <summary>
    /// KEYS: alive key, nodes set, purged marker. ARGV: node, timeout ms. Renews the liveness key (its TTL is counted by
    /// Redis, so the nodes' clocks never matter). Returns 0 when the node was a member, 1 when it was not in the set (first
    /// join, or Redis lost its data), 2 when a sweep had declared it dead and purged it.
    /// </summary>
    public static readonly RedisScript Heartbeat = new("""
        redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
        local added = redis.call('SADD', KEYS[2], ARGV[1])
        if added == 1 and redis.call('DEL', KEYS[3]) == 1 then return 2 end
        return added
        """);

    /// <summary>
    /// KEYS: nodes set, sequence. ARGV: prefix, events channel, the sweeping node. Every node whose liveness key has
    /// expired is removed from the set — SREM inside the script is the claim, so exactly one sweeper purges a dead node —
    /// with its sessions. Returns { purged: [node, full JID, record]..., dead nodes: [node...], live nodes: [node...] }.
    /// </summary>
    public static readonly RedisScript Sweep = new(Publish + "\n" + """
        local purged, dead, live = {}, {}, {}
        for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          if id == ARGV[3] or redis.call('EXISTS', ARGV[1] .. 'alive:' .. id) == 1 then
            table.insert(live, id)
          else
            redis.call('SREM', KEYS[1], id)
            redis.call('SET', ARGV[1] .. 'purged:' .. id, '1', 'PX', 3600000)
            table.insert(dead, id)
            local set = ARGV[1] .. 'node:' .. id .. ':sessions'
            for _, full in ipairs(redis.call('SMEMBERS', set)) do
              local slash = string.find(full, '/', 1, true)
              if slash then
                local bare = string.sub(full, 1, slash - 1)
                local res = string.sub(full, slash + 1)
                local key = ARGV[1] .. 's:' .. bare
                local rec = redis.call('HGET', key, res)
                if owner(rec) == id then
                  redis.call('HDEL', key, res)
                  publish(key, bare, ARGV[2], KEYS[2])
                  table.insert(purged, id)
                  table.insert(purged, full)
                  table.insert(purged, rec)
                end
              end
            end
            redis.call('DEL', set)
          end
        end
        return {purged, dead, live}
        """);

    /// <summary>
    /// KEYS: sequence. ARGV: the highest version this node has seen. After Redis lost its data the counter would start
    /// again at 0 and replicas would take every new write for an old one; each node raises it past what it saw first.
    /// </summary>
    public static readonly RedisScript EnsureSequence = new("""
        local current = tonumber(redis.call('GET', KEYS[1]) or '0')
        if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
        return 1
        """);

    /// <summary>KEYS: nodes set, sequence, alive key, node session set. ARGV: prefix, events channel, node. Clean leave: the node and what is left of its sessions.</summary>
    public static readonly RedisScript Leave = new(Publish + "\n" + """
        redis.call('SREM', KEYS[1], ARGV[3])
        redis.call('DEL', KEYS[3])
        local n = 0
        for _, full in ipairs(redis.call('SMEMBERS', KEYS[4])) do
          local slash = string.find(full, '/', 1, true)
          if slash then
            local bare = string.sub(full, 1, slash - 1)
            local key = ARGV[1] .. 's:' .. bare
            local res = string.sub(full, slash + 1)
            if owner(redis.call('HGET', key, res)) == ARGV[3] then
              redis.call('HDEL', key, res)
              publish(key, bare, ARGV[2], KEYS[2])
              n = n + 1
            end
          end
        end
        redis.call('DEL', KEYS[4])
        return n
        """);
}
