using System.Runtime.InteropServices;

namespace Tendril.Server.Tls;

/// <summary>
/// Gives the C heap's free pages back to the operating system after bursts of TLS connections (glibc <c>malloc_trim</c>).
/// </summary>
/// <remarks>
/// Every TLS handshake makes OpenSSL allocate and free tens of kilobytes of short-lived native memory (handshake
/// buffers, certificate chain, key exchange) across glibc's per-thread arenas. glibc keeps freed chunks inside the
/// arenas, so after a burst of logins the process holds megabytes of free native memory that nothing uses: measured
/// with gdb <c>call malloc_stats()</c> on 3,000 idle TLS sessions, 80 MB of arena memory of which 56 MB in use, and
/// <c>malloc_trim(0)</c> took RSS from 202 to 185 MB (−5.7 KiB per session). Prosody's and nginx's event loops run
/// on one thread and one arena, so they fragment less; we trim instead. The trim runs on a pool thread at most every
/// <see cref="MinInterval"/> and only after enough connection churn, because it walks every arena under its lock.
/// Best effort: on a C library without <c>malloc_trim</c> (musl) nothing happens.
/// </remarks>
internal static class NativeMemoryTrimmer
{
    /// <summary>Handshakes and closes since the last trim that make a trim worth its cost.</summary>
    public const int ChurnThreshold = 64;

    public static TimeSpan MinInterval { get; } = TimeSpan.FromSeconds(10);

    private static int s_churn;
    private static int s_running;
    private static int s_unavailable;
    private static long s_lastTrimTicks;
    private static bool s_burstPending;

    /// <summary>Number of trims done (diagnostics and tests).</summary>
    public static int Trims { get; private set; }

    /// <summary>Number of settled-burst heap compactions done (diagnostics and tests).</summary>
    public static int Compactions { get; private set; }

    /// <summary>A TLS connection was opened or closed.</summary>
    public static void NoteChurn() => Interlocked.Increment(ref s_churn);

    /// <summary>
    /// Called from the server's heartbeat: every <see cref="MinInterval"/>, trims in the background when there was
    /// churn; once a burst has settled (a window with little churn after busy ones), also compacts the managed heap.
    /// </summary>
    /// <remarks>
    /// An idle server allocates almost nothing, so the GC never runs again after a login burst and keeps the heap it
    /// grew for the burst's garbage committed for as long as the connections stay idle (measured: the same 10,000
    /// idle sessions held 15.6 or 27 KiB each depending only on how fast they had logged in). One aggressive,
    /// compacting collection when the burst is over gives those pages back; it is a single pause of tens of
    /// milliseconds per burst, not per connection.
    /// </remarks>
    public static void MaybeTrim(DateTimeOffset now)
    {
        if (!OperatingSystem.IsLinux() || Volatile.Read(ref s_unavailable) != 0) return;
        if (now.UtcTicks - Volatile.Read(ref s_lastTrimTicks) < MinInterval.Ticks) return;
        var busy = Volatile.Read(ref s_churn) >= ChurnThreshold;
        if (!busy && !s_burstPending) return;
        if (Interlocked.Exchange(ref s_running, 1) != 0) return;
        Volatile.Write(ref s_lastTrimTicks, now.UtcTicks);
        Interlocked.Exchange(ref s_churn, 0);
        var compact = !busy;
        s_burstPending = busy;
        ThreadPool.UnsafeQueueUserWorkItem(static compact =>
        {
            var trimmed = false;
            try
            {
                if (compact) GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                MallocTrim(0);
                trimmed = true;
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                Volatile.Write(ref s_unavailable, 1);
            }
            finally
            {
                Volatile.Write(ref s_running, 0);
            }
            // Counted after the flag is cleared: whoever sees the count change may start the next round.
            if (compact) Compactions++;
            if (trimmed) Trims++;
        }, compact, preferLocal: false);
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
