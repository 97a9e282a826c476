using Tendril.Protocol.Sasl;

namespace Tendril.Protocol.Tests.Sasl;

public class SaslPrepTests
{
    [Theory]
    [InlineData("I\u00ADX", "IX")] // RFC 4013 §3: SOFT HYPHEN mapped to nothing
    [InlineData("user", "user")]
    [InlineData("USER", "USER")] // case preserved
    [InlineData("\u00AA", "a")] // NFKC
    [InlineData("\u2168", "IX")] // NFKC
    [InlineData("a\u00A0b", "a b")] // non-ASCII space mapped to space
    [InlineData("a\u2003b", "a b")]
    [InlineData("a\u200Bb", "ab")] // zero width space mapped to nothing
    [InlineData("\uFF21\uFF22", "AB")] // fullwidth
    [InlineData("\u0627\u0628", "\u0627\u0628")] // RandAL only
    [InlineData("\u0627\u0031\u0628", "\u0627\u0031\u0628")] // RandAL first and last
    [InlineData("", "")]
    [InlineData("p\u00E4ss w\u00F6rd", "p\u00E4ss w\u00F6rd")]
    [InlineData("\U0001F600", "\U0001F600")]
    public void Prepares(string input, string expected)
    {
        Assert.True(SaslPrep.TryPrepare(input, out var result));
        Assert.Equal(expected, result);
    }

    [Theory]
    [InlineData("\u0007")] // RFC 4013 §3: prohibited character
    [InlineData("\u0627\u0031")] // RFC 4013 §3: bidi check
    [InlineData("a\u0000")]
    [InlineData("\u0085")] // C.2.2
    [InlineData("\u2028")]
    [InlineData("\uE000")] // C.3
    [InlineData("\U000F0000")]
    [InlineData("\uFDD0")] // C.4
    [InlineData("\uFFFF")]
    [InlineData("\uFFFD")] // C.6
    [InlineData("\u2FF0")] // C.7
    [InlineData("\u200E")] // C.8
    [InlineData("\U000E0001")] // C.9
    [InlineData("a\u0627")] // RandAL with L
    [InlineData("\u0627a\u0628")]
    [InlineData("\u05D0\u0031")] // must end with RandAL
    public void Rejects(string input)
    {
        Assert.False(SaslPrep.TryPrepare(input, out _));
        Assert.Throws<ArgumentException>(() => SaslPrep.Prepare(input));
    }

    [Fact]
    public void Rejects_lone_surrogates()
    {
        // C.5; not in the theory because xunit's serialization of test data replaces lone surrogates
        Assert.False(SaslPrep.TryPrepare("\uD800", out _));
        Assert.False(SaslPrep.TryPrepare("a\uDC00", out _));
        Assert.False(SaslPrep.TryPrepare("a\uD800b", out _));
    }

    [Fact]
    public void Ascii_fast_path_returns_same_instance()
    {
        var s = new string("hello world".AsSpan());
        Assert.True(SaslPrep.TryPrepare(s, out var result));
        Assert.Same(s, result);
    }
}
