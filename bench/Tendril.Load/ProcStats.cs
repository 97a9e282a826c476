using System.Globalization;

namespace Tendril.Load;

/// <summary>One reading of a process's resident memory and CPU time from /proc (Linux).</summary>
public readonly record struct ProcSample(long RssKiB, double CpuSeconds, bool Valid)
{
    /// <summary>/proc/PID/stat counts in USER_HZ, which Linux fixes at 100 for user space.</summary>
    private const double UserHz = 100.0;

    public static ProcSample Read(string pid)
    {
        try
        {
            long rss = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
                rss = long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                break;
            }
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) may contain spaces: fields are counted after its closing parenthesis.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var utime = long.Parse(fields[11], CultureInfo.InvariantCulture); // field 14
            var stime = long.Parse(fields[12], CultureInfo.InvariantCulture); // field 15
            return new ProcSample(rss, (utime + stime) / UserHz, true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return default;
        }
    }

    public static string? Command(string pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    public static long MemTotalKiB()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(9).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return 0;
    }

    public static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return "unknown";
    }
}

/// <summary>Tracks a process over the run: RSS at phase boundaries and its peak, CPU seconds per phase.</summary>
public sealed class ProcTracker(string pid)
{
    public string Pid { get; } = pid;
    public ProcSample Start { get; private set; }
    public ProcSample Last { get; private set; }
    public long PeakRssKiB { get; private set; }
    public Dictionary<string, (ProcSample Begin, ProcSample End)> Phases { get; } = [];

    public ProcSample Sample()
    {
        var s = ProcSample.Read(Pid);
        if (!s.Valid) return s;
        if (!Start.Valid) Start = s;
        Last = s;
        if (s.RssKiB > PeakRssKiB) PeakRssKiB = s.RssKiB;
        return s;
    }

    public void BeginPhase(string name) => Phases[name] = (Sample(), default);

    public void EndPhase(string name)
    {
        if (Phases.TryGetValue(name, out var p)) Phases[name] = (p.Begin, Sample());
    }
}
