using Tendril.Xml;
using static Tendril.Xml.Tests.TestUtil;

namespace Tendril.Xml.Tests;

/// <summary>Mutated inputs: the parser must only ever fail with <see cref="XmlParseException"/>, identically for any chunking.</summary>
public class FuzzTests
{
    private static readonly byte[] s_interesting = Utf8("<>/'\"=&;#x:![]?- \r\n\t\u00e9\U0001F600CDATAxmlnsstream");

    [Fact]
    public void MutatedStreams_FailCleanly_AndIndependentlyOfChunking()
    {
        var original = Utf8(RealisticStream);
        var random = new Random(31337);
        var failures = 0;
        for (var iteration = 0; iteration < 1500; iteration++)
        {
            var data = new List<byte>(original);
            var mutations = random.Next(1, 4);
            for (var m = 0; m < mutations; m++)
            {
                var at = random.Next(data.Count);
                switch (random.Next(4))
                {
                    case 0: data[at] = s_interesting[random.Next(s_interesting.Length)]; break;
                    case 1: data.Insert(at, s_interesting[random.Next(s_interesting.Length)]); break;
                    case 2: data.RemoveAt(at); break;
                    default: data[at] = (byte)random.Next(256); break;
                }
            }
            var bytes = data.ToArray();
            var opts = new XmlParserOptions { MaxStanzaBytes = 400, MaxDepth = 4 };
            var whole = ParseWhole(bytes, opts); // any exception other than XmlParseException fails the test
            var byteWise = Parse(bytes, opts, _ => 1);
            Assert.True(whole.SequenceEqual(byteWise), $"iteration {iteration}");
            var chunked = Parse(bytes, opts, _ => random.Next(1, 30));
            Assert.True(whole.SequenceEqual(chunked), $"iteration {iteration}");
            if (whole[^1].StartsWith("error:", StringComparison.Ordinal)) failures++;
        }
        Assert.InRange(failures, 500, 1500); // most mutations must be detected
    }
}
