using Tendril.Server.Logging;
using Tendril.Server.Tests.Infrastructure;
using Tendril.Storage;

namespace Tendril.Server.Tests.Logging;

/// <summary>
/// Issue 18: every refused stanza of a 20 s PostgreSQL restart logged a stack trace (200 of them, 692 KB). An outage is
/// now one line when it starts (the one stack trace), a count every 10 s while it lasts, one line when it ends.
/// </summary>
public sealed class StorageOutageLogTests
{
    [Fact]
    public void Two_hundred_refusals_over_20_s_are_one_start_a_count_at_10_s_and_one_end()
    {
        var logs = new CapturingLoggerFactory();
        var time = new ManualTimeProvider();
        var outage = new StorageOutageLog(logs.CreateLogger("Tendril.Storage"), time);
        var failure = new StorageException("PostgreSQL store offline message failed: connection refused", new System.Net.Sockets.SocketException(111));
        outage.Succeeded(); // no outage: nothing to say
        for (var i = 0; i < 200; i++) // 10 a second for 20 s
        {
            outage.Refusal("an offline message could not be stored", failure);
            time.Advance(TimeSpan.FromMilliseconds(100));
        }
        Assert.True(outage.IsDown);
        outage.Succeeded();
        outage.Succeeded(); // the end is said once
        Assert.False(outage.IsDown);

        Assert.Equal(3, logs.Entries.Count);
        var start = Assert.Single(logs.WithEvent(320));
        Assert.Same(failure, start.Exception);
        var count = Assert.Single(logs.WithEvent(321)); // at 10 s (the last refusal was at 19.9 s)
        Assert.Null(count.Exception);
        Assert.Contains("100 stanzas refused since the last report, 101 in all", count.Message, StringComparison.Ordinal);
        var end = Assert.Single(logs.WithEvent(322));
        Assert.Contains("200 stanzas were refused", end.Message, StringComparison.Ordinal);
        Assert.Equal(200, outage.Refused);

        // A second outage starts afresh.
        outage.Refusal("a filter could not decide on a message", failure);
        Assert.Equal(2, logs.WithEvent(320).Count);
    }
}
