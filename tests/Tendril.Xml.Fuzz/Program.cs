using System.Buffers;
using SharpFuzz;
using Tendril.Xml;

namespace Tendril.Xml.Fuzz;

/// <summary>
/// Fuzz target: the bytes a client sends, fed to <see cref="XmlStreamParser"/> in chunks (the first byte picks the chunk
/// size, so split points are explored too), with the server's limits. Bad input must end in
/// <see cref="XmlParseException"/> and nothing else; every element the parser returns must serialize
/// (<see cref="XmlWriter"/>) to XML that parses back to the same text. Any other exception, a hang (AFL's timeout) or
/// a crash is a finding.
/// </summary>
public static class Program
{
    private static readonly XmlParserOptions Limits = new() { MaxStanzaBytes = 64 * 1024, MaxDepth = 48, MaxAttributes = 64 };
    private static readonly XmlParserOptions Fragment = Limits with { FragmentMode = true, MaxStanzaBytes = 1024 * 1024 };

    public static void Main(string[] args)
    {
        if (args.Length == 1)
        {
            // Replays one input (a crash AFL found, or a corpus file) without AFL.
            Run(File.ReadAllBytes(args[0]));
            return;
        }
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            Run(copy.ToArray());
        });
    }

    public static void Run(byte[] data)
    {
        if (data.Length == 0) return;
        var chunk = 1 + (data[0] & 63);
        var parser = new XmlStreamParser(Limits);
        try
        {
            for (var offset = 1; offset < data.Length; offset += chunk)
            {
                var buffer = new ReadOnlySequence<byte>(data, offset, Math.Min(chunk, data.Length - offset));
                while (parser.TryRead(ref buffer, out var ev))
                {
                    if (ev.Element is { } element) RoundTrip(element);
                    if (ev.Kind == XmlStreamEventKind.StreamEnd) return;
                }
            }
        }
        catch (XmlParseException)
        {
            // refused: what bad input must get
        }
    }

    /// <summary>The writer's output of a parsed element must be XML the parser reads back to the same element.</summary>
    private static void RoundTrip(XmlElement element)
    {
        var text = XmlWriter.ToXmlString(element);
        var parser = new XmlStreamParser(Fragment);
        var bytes = new ReadOnlySequence<byte>(System.Text.Encoding.UTF8.GetBytes(text));
        if (!parser.TryRead(ref bytes, out var again) || again.Element is null)
            throw new InvalidOperationException("The writer's output does not parse: " + text);
        var back = XmlWriter.ToXmlString(again.Element);
        if (back != text) throw new InvalidOperationException($"Round trip changed the element:\n{text}\n{back}");
    }
}
