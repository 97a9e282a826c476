using System.Globalization;
using Microsoft.Diagnostics.Runtime;

// tendril-heapstat PID [SESSIONS] [TOP]: what a running .NET process's managed heap holds, per type, counting only
// objects reachable from the GC roots (garbage not yet collected is left out), divided by SESSIONS so that a server
// holding N idle connections shows what one connection costs. The process is suspended while the heap is walked
// (a few seconds for ~1M objects). Used for the breakdown in docs/benchmarks.md; dotnet-gcdump is not installable here.
if (args.Length < 1 || !int.TryParse(args[0], out var pid))
{
    Console.Error.WriteLine("usage: tendril-heapstat PID [SESSIONS] [TOP]");
    return 2;
}
var per = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1;
var top = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 50;

using var target = DataTarget.AttachToProcess(pid, suspend: true);
using var runtime = target.ClrVersions[0].CreateRuntime();
var heap = runtime.Heap;

var seen = new HashSet<ulong>();
var stack = new Stack<ClrObject>();
foreach (var root in heap.EnumerateRoots())
{
    if (root.Object.IsValid && seen.Add(root.Object.Address)) stack.Push(root.Object);
}
var byType = new Dictionary<string, (long Count, long Bytes)>();
var arrays = new Dictionary<string, long>();
long reachable = 0;
while (stack.Count > 0)
{
    var o = stack.Pop();
    var name = o.Type?.Name ?? "?";
    var size = (long)o.Size;
    reachable += size;
    byType.TryGetValue(name, out var t);
    byType[name] = (t.Count + 1, t.Bytes + size);
    if (o.IsArray)
    {
        var key = $"{name} length {o.AsArray().Length}";
        arrays[key] = arrays.GetValueOrDefault(key) + 1;
    }
    foreach (var r in o.EnumerateReferences(carefully: false, considerDependantHandles: true))
    {
        if (r.IsValid && seen.Add(r.Address)) stack.Push(r);
    }
}
long all = 0;
foreach (var o in heap.EnumerateObjects())
{
    if (o.IsValid) all += (long)o.Size;
}

Console.WriteLine($"heap objects {all / 1024.0:F0} KiB (reachable or not); reachable {reachable / 1024.0:F0} KiB; per session {reachable / 1024.0 / per:F2} KiB");
Console.WriteLine();
Console.WriteLine($"{"KiB/session",11} {"objects/session",15}  type");
foreach (var (name, t) in byType.OrderByDescending(kv => kv.Value.Bytes).Take(top))
    Console.WriteLine($"{t.Bytes / 1024.0 / per,11:F3} {t.Count / (double)per,15:F2}  {name}");
Console.WriteLine();
Console.WriteLine("most frequent arrays:");
foreach (var (key, count) in arrays.OrderByDescending(kv => kv.Value).Take(20))
    Console.WriteLine($"{count,10}  {key}");
return 0;
