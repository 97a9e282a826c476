namespace Tendril.Protocol.Tests;

public class JidTests
{
    [Theory]
    // RFC 7622 §3.5 examples of valid JIDs
    [InlineData("juliet@example.com", "juliet", "example.com", null)]
    [InlineData("juliet@example.com/foo", "juliet", "example.com", "foo")]
    [InlineData("juliet@example.com/foo bar", "juliet", "example.com", "foo bar")]
    [InlineData("juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar")]
    [InlineData("foo\\20bar@example.com", "foo\\20bar", "example.com", null)]
    [InlineData("fussball@example.com", "fussball", "example.com", null)]
    [InlineData("fu\u00DFball@example.com", "fu\u00DFball", "example.com", null)]
    [InlineData("\u03C0@example.com", "\u03C0", "example.com", null)]
    [InlineData("\u03A3@example.com/foo", "\u03C3", "example.com", "foo")]
    [InlineData("\u03C3@example.com/foo", "\u03C3", "example.com", "foo")]
    [InlineData("\u03C2@example.com/foo", "\u03C2", "example.com", "foo")]
    [InlineData("king@example.com/\u265A", "king", "example.com", "\u265A")]
    [InlineData("example.com", null, "example.com", null)]
    [InlineData("example.com/foobar", null, "example.com", "foobar")]
    [InlineData("a.example.com/b@example.net", null, "a.example.com", "b@example.net")]
    // more
    [InlineData("Juliet@Example.COM/Balcony", "juliet", "example.com", "Balcony")]
    [InlineData("juliet@example.com./r", "juliet", "example.com", "r")]
    [InlineData("juliet@example.com/a/b", "juliet", "example.com", "a/b")]
    [InlineData("user@[::1]/r", "user", "[::1]", "r")]
    [InlineData("user@192.168.0.1", "user", "192.168.0.1", null)]
    [InlineData("localhost", null, "localhost", null)]
    [InlineData("b\u00FCcher.example", null, "b\u00FCcher.example", null)]
    [InlineData("xn--bcher-kva.example", null, "b\u00FCcher.example", null)]
    [InlineData("B\u00DCCHER.Example", null, "b\u00FCcher.example", null)]
    [InlineData("\uFF2A\uFF55\uFF4C\uFF49\uFF45\uFF54@example.com", "juliet", "example.com", null)] // fullwidth localpart
    [InlineData("u\u0308ber@example.com", "\u00FCber", "example.com", null)] // NFC
    [InlineData("juliet@example.com/\u00A0foo\u2003", "juliet", "example.com", " foo ")] // non-ASCII spaces → space
    [InlineData("juliet@example.com/e\u0301", "juliet", "example.com", "\u00E9")]
    [InlineData("juliet@example.com/\U0001F600", "juliet", "example.com", "\U0001F600")]
    [InlineData("juliet@example.com/\uFF21", "juliet", "example.com", "\uFF21")] // OpaqueString keeps width
    public void Parses_valid(string text, string? local, string domain, string? resource)
    {
        var jid = Jid.Parse(text);
        Assert.Equal(local, jid.Local);
        Assert.Equal(domain, jid.Domain);
        Assert.Equal(resource, jid.Resource);
        Assert.True(Jid.TryParse(text, out var again));
        Assert.Equal(jid, again);
        Assert.Equal(jid, Jid.Parse(jid.ToString()));
    }

    [Theory]
    // RFC 7622 §3.5 examples of invalid JIDs
    [InlineData("\"juliet\"@example.com")]
    [InlineData("foo bar@example.com")]
    [InlineData("henry\u2163@example.com")] // compatibility character (ROMAN NUMERAL FOUR)
    [InlineData("\u265A@example.com")] // symbol in localpart
    [InlineData("@example.com")]
    [InlineData("user@example.com/")]
    [InlineData("juliet@")]
    [InlineData("/foobar")]
    [InlineData("example.com/")]
    [InlineData("juliet@example.com/")]
    // more
    [InlineData("")]
    [InlineData("@")]
    [InlineData("/")]
    [InlineData("a@b@example.com")]
    [InlineData("jul&iet@example.com")]
    [InlineData("jul'iet@example.com")]
    [InlineData("jul:iet@example.com")]
    [InlineData("jul<iet@example.com")]
    [InlineData("jul>iet@example.com")]
    [InlineData("jul\u0007iet@example.com")]
    [InlineData("jul\u00A0iet@example.com")]
    [InlineData("\u2160@example.com")]
    [InlineData("juliet@example.com/foo\u0007")]
    [InlineData("juliet@example.com/foo\u200E")] // format character
    [InlineData("juliet@example.com/\uE000")] // private use
    [InlineData("juliet@example.com/\uFFFF")] // non-character
    [InlineData("juliet@example.com/a\u2028b")]
    [InlineData("juliet@exa mple.com")]
    [InlineData("juliet@example..com")]
    [InlineData("juliet@.example.com")]
    [InlineData("juliet@example.com..")]
    [InlineData("juliet@.")]
    [InlineData("juliet@-example.com")]
    [InlineData("juliet@example-.com")]
    [InlineData("juliet@exa_mple.com")]
    [InlineData("juliet@example.com:5222")]
    [InlineData("juliet@[::1")]
    [InlineData("juliet@[1.2.3.4]")]
    [InlineData("juliet@[example.com]")]
    [InlineData("juliet@xn--zz-.example")]
    public void Rejects_invalid(string text)
    {
        Assert.Throws<FormatException>(() => Jid.Parse(text));
        Assert.False(Jid.TryParse(text, out var jid));
        Assert.Null(jid);
    }

    [Fact]
    public void Rejects_lone_surrogates()
    {
        // (not in the theory: xunit's serialization of test data replaces lone surrogates)
        Assert.False(Jid.TryParse("juliet@example.com/\uD800", out _));
        Assert.False(Jid.TryParse("juliet@example.com/a\uDC00", out _));
        Assert.False(Jid.TryParse("jul\uD800iet@example.com", out _));
        Assert.False(Jid.TryParse("juliet@exa\uD800mple.com", out _));
        Assert.False(Jid.IsValidResource("\uD83D"));
    }

    [Fact]
    public void TryParse_null_is_false() => Assert.False(Jid.TryParse(null, out _));

    [Fact]
    public void Length_limits()
    {
        var l1023 = new string('a', 1023);
        Assert.Equal(l1023, Jid.Parse(l1023 + "@example.com").Local);
        Assert.False(Jid.TryParse(l1023 + "a@example.com", out _));
        // 1023 bytes of two-byte characters is 511 characters
        Assert.True(Jid.TryParse(new string('\u00E9', 511) + "@example.com", out _));
        Assert.False(Jid.TryParse(new string('\u00E9', 512) + "@example.com", out _));

        Assert.Equal(l1023, Jid.Parse("example.com/" + l1023).Resource);
        Assert.False(Jid.TryParse("example.com/" + l1023 + "a", out _));
        Assert.False(Jid.TryParse("example.com/" + new string('\u00E9', 512), out _));

        Assert.True(Jid.TryParse(new string('a', 63) + ".example", out _));
        Assert.False(Jid.TryParse(new string('a', 64) + ".example", out _));
        Assert.False(Jid.TryParse(new string('\u00E9', 64) + ".example", out _));
        Assert.False(Jid.TryParse(new string('x', 5000), out _));
    }

    [Fact]
    public void Equality_is_by_normalized_parts()
    {
        Assert.Equal(Jid.Parse("Juliet@EXAMPLE.com/balcony"), Jid.Parse("juliet@example.com/balcony"));
        Assert.NotEqual(Jid.Parse("juliet@example.com/Balcony"), Jid.Parse("juliet@example.com/balcony"));
        Assert.Equal(Jid.Parse("user@b\u00FCcher.example"), Jid.Parse("user@xn--bcher-kva.example"));
        Assert.Equal(Jid.Parse("user@b\u00FCcher.example").GetHashCode(), Jid.Parse("user@xn--bcher-kva.example").GetHashCode());
        Assert.Equal(Jid.Parse("\u03A3@example.com"), Jid.Parse("\u03C3@example.com"));
        Assert.Equal(Jid.Parse("example.com."), Jid.Parse("example.com"));
        Assert.NotEqual(Jid.Parse("example.com"), Jid.Parse("example.com/x"));
        Assert.NotEqual(Jid.Parse("a@example.com"), Jid.Parse("example.com"));
        Assert.True(Jid.Parse("A@example.com") == Jid.Parse("a@example.com"));
        Assert.True(Jid.Parse("a@example.com") != Jid.Parse("b@example.com"));
        Assert.True((Jid?)null == null);
        Assert.False(Jid.Parse("a@example.com").Equals((object?)"a@example.com"));
    }

    [Fact]
    public void ToString_is_normalized()
    {
        Assert.Equal("juliet@example.com/Balcony", Jid.Parse("Juliet@EXAMPLE.com./Balcony").ToString());
        Assert.Equal("user@b\u00FCcher.example", Jid.Parse("user@xn--bcher-kva.example").ToString());
        Assert.Equal("example.com/r", Jid.Create(null, "example.com", "r").ToString());
        Assert.Equal("example.com", Jid.Create(null, "Example.com").ToString());
        Assert.Equal("a@example.com", Jid.Create("A", "example.com").ToString());
    }

    [Fact]
    public void Properties_and_bare()
    {
        var full = Jid.Parse("juliet@example.com/balcony");
        Assert.True(full.IsFull);
        Assert.False(full.IsBare);
        Assert.False(full.IsDomain);
        var bare = full.Bare;
        Assert.Same(bare, full.Bare);
        Assert.Same(bare, bare.Bare);
        Assert.True(bare.IsBare);
        Assert.Equal("juliet@example.com", bare.ToString());
        Assert.Equal(Jid.Parse("juliet@example.com"), bare);
        Assert.True(Jid.Parse("example.com").IsDomain);
        Assert.False(Jid.Parse("example.com/r").IsDomain);
        Assert.Equal("example.com", Jid.Parse("example.com/r").Bare.ToString());
    }

    [Fact]
    public void WithResource()
    {
        var bare = Jid.Parse("juliet@example.com");
        var full = bare.WithResource("balcony");
        Assert.Equal("juliet@example.com/balcony", full.ToString());
        Assert.Same(bare, full.Bare);
        Assert.Same(full, full.WithResource("balcony"));
        Assert.Equal(bare, full.WithResource(null));
        Assert.Equal(" x", full.WithResource("\u00A0x").Resource);
        Assert.Equal("juliet@example.com/other", full.WithResource("other").ToString());
        Assert.Throws<FormatException>(() => bare.WithResource(""));
        Assert.Throws<FormatException>(() => bare.WithResource("a\u0000"));
    }

    [Fact]
    public void Create_validates_each_part()
    {
        var jid = Jid.Create("Juliet", "Example.com", "Balcony");
        Assert.Equal(Jid.Parse("juliet@example.com/Balcony"), jid);
        Assert.Equal("a/b", Jid.Create("x", "example.com", "a/b").Resource);
        Assert.Throws<FormatException>(() => Jid.Create("", "example.com"));
        Assert.Throws<FormatException>(() => Jid.Create("a@b", "example.com"));
        Assert.Throws<FormatException>(() => Jid.Create("a/b", "example.com"));
        Assert.Throws<FormatException>(() => Jid.Create("a", ""));
        Assert.Throws<FormatException>(() => Jid.Create("a", "a@b"));
        Assert.Throws<FormatException>(() => Jid.Create("a", "a/b"));
        Assert.Throws<FormatException>(() => Jid.Create("a", "example.com", ""));
        Assert.Throws<ArgumentNullException>(() => Jid.Create("a", null!));
    }

    [Theory]
    [InlineData("balcony", true)]
    [InlineData("foo bar", true)]
    [InlineData("foo@bar/baz", true)]
    [InlineData("\u265A", true)]
    [InlineData("", false)]
    [InlineData("a\tb", false)]
    [InlineData("a\u0085b", false)]
    [InlineData("\u202E", false)]
    public void IsValidResource(string resource, bool valid) => Assert.Equal(valid, Jid.IsValidResource(resource));

    [Fact]
    public void Normalized_ascii_parse_reuses_the_input_and_allocates_only_parts()
    {
        var text = "juliet@example.com/balcony";
        Jid.Parse(text); // warm up
        var before = GC.GetAllocatedBytesForCurrentThread();
        var jid = Jid.Parse(text);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Same(text, jid.ToString());
        // Jid (≈56 bytes) + "juliet" (40) + "example.com" (48) + "balcony" (40) on 64-bit
        Assert.True(allocated <= 200, $"allocated {allocated} bytes");

        var domain = "example.com";
        before = GC.GetAllocatedBytesForCurrentThread();
        var d = Jid.Parse(domain);
        allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Same(domain, d.Domain);
        Assert.True(allocated <= 64, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Bare_string_is_derived_from_the_full_string()
    {
        var full = Jid.Parse("juliet@example.com/balcony");
        Assert.Equal("juliet@example.com", full.Bare.ToString());
        Assert.Equal("example.com", Jid.Parse("example.com/x/y").Bare.ToString());
    }
}
