using System.Buffers;

namespace Tendril.Xml;

/// <summary>
/// Incremental, namespace-aware XML parser over raw UTF-8 bytes for XMPP streams.
/// Input may be split at any byte; the parser keeps partial tokens internally and always consumes
/// everything it is given. Not thread-safe: one instance per stream.
/// </summary>
public sealed class XmlStreamParser
{
    public XmlStreamParser(XmlParserOptions? options = null)
    {
        Options = options ?? XmlParserOptions.Default;
    }

    public XmlParserOptions Options { get; }

    /// <summary>Forgets all state (stream restart after STARTTLS or SASL, RFC 6120 §4.3.3).</summary>
    public void Reset() => throw new NotImplementedException();

    /// <summary>
    /// Parses from <paramref name="buffer"/> until one event is complete or the input is exhausted.
    /// On return <paramref name="buffer"/> is sliced to what has not been consumed yet (empty when false is returned).
    /// Throws <see cref="XmlParseException"/> on bad input; the parser is then unusable until <see cref="Reset"/>.
    /// </summary>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, out XmlStreamEvent ev) => throw new NotImplementedException();
}
