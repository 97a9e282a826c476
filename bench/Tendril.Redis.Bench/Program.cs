using System.Diagnostics;
using System.Globalization;
using System.Text;
using Tendril.Redis;
using Tendril.Tests.Support;

// tendril-redis-bench [--endpoint HOST:PORT] [--ops N] [--window W]
// Pipelined SET, GET and PUBLISH through one RedisClient (one command connection, W commands in flight), plus the
// same with one command in flight (round-trip bound). Without --endpoint it starts its own redis-server on a free
// loopback port (no persistence). Bounded: N operations per run, nothing else.
string? endPoint = null;
int ops = 200_000, window = 256;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--endpoint": endPoint = args[++i]; break;
        case "--ops": ops = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--window": window = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        default:
            Console.Error.WriteLine("usage: tendril-redis-bench [--endpoint HOST:PORT] [--ops N] [--window W]");
            return 2;
    }
}

using var server = endPoint is null ? new RedisServer() : null;
endPoint ??= server!.EndPoint;
await using var client = new RedisClient(new RedisClientOptions { EndPoint = endPoint, CommandTimeout = TimeSpan.FromSeconds(30) });
await client.ConnectAsync();
Console.WriteLine($"redis at {endPoint}; {ops:N0} ops per run; .NET {Environment.Version}; {Environment.ProcessorCount} cores");
Console.WriteLine($"{"run",-28} {"ops/s",12} {"alloc B/op",11}");

var value = Encoding.UTF8.GetBytes(new string('v', 32));
var keys = Enumerable.Range(0, 1000).Select(i => "bench:key:" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
await Run("warm-up SET", Math.Min(ops, 20_000), window, i => client.ExecuteAsync("SET", keys[i % keys.Length], value));

await Run($"SET, {window} in flight", ops, window, i => client.ExecuteAsync("SET", keys[i % keys.Length], value));
await Run($"GET, {window} in flight", ops, window, i => client.ExecuteAsync("GET", keys[i % keys.Length]));
await Run("SET, 1 in flight", Math.Min(ops, 20_000), 1, i => client.ExecuteAsync("SET", keys[i % keys.Length], value));
await Run("GET, 1 in flight", Math.Min(ops, 20_000), 1, i => client.ExecuteAsync("GET", keys[i % keys.Length]));

// PUBLISH to a channel this same client subscribes to: the run ends when every message was delivered.
long delivered = 0;
var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
int expected = 0;
await using (await client.SubscribeAsync("bench:channel", _ =>
{
    if (Interlocked.Increment(ref delivered) == Volatile.Read(ref expected)) all.TrySetResult();
    return ValueTask.CompletedTask;
}))
{
    Volatile.Write(ref expected, ops);
    await Run($"PUBLISH+deliver, {window} in flight", ops, window, i => client.PublishAsync("bench:channel", value), all.Task);
}
await Run($"PUBLISH (0 subscribers)", ops, window, i => client.PublishAsync("bench:nobody", value));
return 0;

static async Task Run<T>(string name, int count, int inFlight, Func<int, Task<T>> op, Task? alsoWaitFor = null)
{
    long next = -1;
    long allocated = GC.GetTotalAllocatedBytes(precise: true);
    var watch = Stopwatch.StartNew();
    var loops = Enumerable.Range(0, inFlight).Select(_ => Task.Run(async () =>
    {
        for (long i; (i = Interlocked.Increment(ref next)) < count;) await op((int)i).ConfigureAwait(false);
    }));
    await Task.WhenAll(loops);
    if (alsoWaitFor is not null) await alsoWaitFor.WaitAsync(TimeSpan.FromMinutes(2));
    watch.Stop();
    allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
    Console.WriteLine($"{name,-28} {count / watch.Elapsed.TotalSeconds,12:N0} {allocated / (double)count,11:N0}");
}
