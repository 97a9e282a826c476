using Tendril.Protocol;

namespace Tendril.Protocol.Tests;

/// <summary>XEP-0082 DateTime profile: one writer (UTC 'Z', milliseconds only when non-zero) and one reader.</summary>
public sealed class XmppDateTimeTests
{
    [Fact]
    public void Formats_utc_with_z_and_milliseconds_only_when_not_zero()
    {
        Assert.Equal("2002-09-10T23:08:25Z", XmppDateTime.Format(new DateTimeOffset(2002, 9, 10, 23, 8, 25, TimeSpan.Zero)));
        Assert.Equal("2002-09-10T23:08:25.120Z", XmppDateTime.Format(new DateTimeOffset(2002, 9, 10, 23, 8, 25, 120, TimeSpan.Zero)));
        // Another offset is converted to UTC; sub-millisecond precision is truncated, never rounded into the next second.
        Assert.Equal("2002-09-10T21:08:25Z", XmppDateTime.Format(new DateTimeOffset(2002, 9, 10, 23, 8, 25, TimeSpan.FromHours(2))));
        Assert.Equal("2002-09-10T23:08:25.999Z", XmppDateTime.Format(new DateTimeOffset(2002, 9, 10, 23, 8, 25, TimeSpan.Zero).AddTicks(9_999_999)));
        Assert.Equal("2002-09-10T23:08:25Z", XmppDateTime.Format(new DateTimeOffset(2002, 9, 10, 23, 8, 25, TimeSpan.Zero).AddTicks(9_999)));
    }

    [Theory]
    [InlineData("1969-07-21T02:56:15Z", "1969-07-21T02:56:15.0000000+00:00")]
    [InlineData("1969-07-20T21:56:15-05:00", "1969-07-21T02:56:15.0000000+00:00")]
    [InlineData("1969-07-21T02:56:15.123Z", "1969-07-21T02:56:15.1230000+00:00")]
    [InlineData("1969-07-21T02:56:15.123456+01:30", "1969-07-21T01:26:15.1234560+00:00")]
    public void Parses_the_datetime_profile(string text, string expectedUtc)
    {
        Assert.True(XmppDateTime.TryParse(text, out var instant));
        Assert.Equal(expectedUtc, instant.ToUniversalTime().ToString("o", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("yesterday")]
    [InlineData("1969-07-21T02:56:15")] // no time zone: not an instant
    [InlineData("1969-07-21")] // the Date profile is not a DateTime
    [InlineData("1969-07-21 02:56:15Z")]
    [InlineData("1969-07-21T02:56:15.Z")]
    [InlineData("1969-07-21T02:56:15+0100")]
    [InlineData("1969-13-21T02:56:15Z")]
    public void Refuses_what_is_not_a_datetime(string? text) => Assert.False(XmppDateTime.TryParse(text, out _));

    [Fact]
    public void Round_trips()
    {
        var instant = new DateTimeOffset(2026, 11, 22, 4, 5, 6, 789, TimeSpan.Zero);
        Assert.True(XmppDateTime.TryParse(XmppDateTime.Format(instant), out var back));
        Assert.Equal(instant, back);
    }
}
