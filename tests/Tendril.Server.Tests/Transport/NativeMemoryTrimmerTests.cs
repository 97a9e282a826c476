using Tendril.Server.Tls;

namespace Tendril.Server.Tests.Transport;

public class NativeMemoryTrimmerTests
{
    [Fact]
    public async Task ChurnTriggersATrim_AndTheSettledBurstACompaction()
    {
        if (!OperatingSystem.IsLinux()) return;
        // The trimmer is process-wide and other tests open TLS connections concurrently, so only increases are asserted.
        var start = DateTimeOffset.UtcNow.AddYears(1); // later than any time other tests pass in
        var trims = NativeMemoryTrimmer.Trims;
        for (var i = 0; i < NativeMemoryTrimmer.ChurnThreshold; i++) NativeMemoryTrimmer.NoteChurn();
        NativeMemoryTrimmer.MaybeTrim(start);
        await WaitUntil(() => NativeMemoryTrimmer.Trims > trims);

        // Not before the interval is over, even with more churn.
        var compactions = NativeMemoryTrimmer.Compactions;
        NativeMemoryTrimmer.MaybeTrim(start + NativeMemoryTrimmer.MinInterval / 2);
        // The next quiet window after a busy one compacts the managed heap (churn from other tests may make it busy
        // instead; then the window after that is tried).
        for (var window = 1; window <= 20 && NativeMemoryTrimmer.Compactions == compactions; window++)
        {
            var before = NativeMemoryTrimmer.Trims;
            NativeMemoryTrimmer.MaybeTrim(start + NativeMemoryTrimmer.MinInterval * window);
            await WaitUntil(() => NativeMemoryTrimmer.Trims > before || NativeMemoryTrimmer.Compactions > compactions);
        }
        Assert.True(NativeMemoryTrimmer.Compactions > compactions, "no compaction after the burst settled");
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(10);
        }
    }
}
