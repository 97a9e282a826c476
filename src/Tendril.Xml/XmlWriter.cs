using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace Tendril.Xml;

/// <summary>Serializes elements as UTF-8 into an <see cref="IBufferWriter{T}"/> with correct escaping and namespace declarations.</summary>
/// <remarks>
/// Element names are always written unprefixed; an <c>xmlns="…"</c> declaration is emitted whenever an element's
/// namespace differs from the default namespace in scope. Attributes in the XML namespace are written with the
/// reserved <c>xml:</c> prefix; attributes in any other namespace get a prefix <c>ns1</c>, <c>ns2</c>, … declared on
/// the same element. Attributes that are namespace declarations themselves (unqualified <c>xmlns</c>, or in the
/// xmlns namespace) are skipped: namespaces come from <see cref="XmlElement.Namespace"/>.
/// Characters that cannot appear in XML 1.0 (C0 controls other than tab/LF/CR, U+FFFE, U+FFFF, unpaired
/// surrogates) are written as U+FFFD so the output is always well-formed.
/// </remarks>
public static class XmlWriter
{
    private static readonly SearchValues<char> s_textSpecial = SearchValues.Create(
        "&<>\r\uFFFE\uFFFF\0\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000B\u000C\u000E\u000F\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F");

    private static readonly SearchValues<char> s_attrSpecial = SearchValues.Create(
        "&<>\"'\t\n\r\uFFFE\uFFFF\0\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000B\u000C\u000E\u000F\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F");

    /// <summary>
    /// Writes <paramref name="element"/>. <paramref name="inheritedNamespace"/> is the default namespace in scope
    /// where it is written (e.g. <c>jabber:client</c> for a stanza on a c2s stream): no <c>xmlns</c> is emitted
    /// when the element's namespace equals it.
    /// </summary>
    public static void Write(IBufferWriter<byte> output, XmlElement element, string inheritedNamespace = "")
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(element);
        var sink = new Sink(output);
        WriteElement(ref sink, element, inheritedNamespace ?? string.Empty, 0);
        sink.Flush();
    }

    /// <summary>Writes attribute-value escaped text (&amp; &lt; &gt; &quot; &apos;).</summary>
    public static void WriteEscapedAttributeValue(IBufferWriter<byte> output, ReadOnlySpan<char> value)
    {
        ArgumentNullException.ThrowIfNull(output);
        var sink = new Sink(output);
        sink.WriteEscaped(value, s_attrSpecial);
        sink.Flush();
    }

    /// <summary>Writes character-data escaped text (&amp; &lt; &gt;).</summary>
    public static void WriteEscapedText(IBufferWriter<byte> output, ReadOnlySpan<char> value)
    {
        ArgumentNullException.ThrowIfNull(output);
        var sink = new Sink(output);
        sink.WriteEscaped(value, s_textSpecial);
        sink.Flush();
    }

    public static string ToXmlString(XmlElement element, string inheritedNamespace = "")
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        Write(buffer, element, inheritedNamespace);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteElement(ref Sink sink, XmlElement element, string defaultNs, int depth)
    {
        if (depth > 1000) throw new InvalidOperationException("Element tree too deep to serialize.");
        sink.WriteByte((byte)'<');
        sink.WriteUtf8(element.Name);
        var ns = element.Namespace ?? string.Empty;
        if (!string.Equals(ns, defaultNs, StringComparison.Ordinal))
        {
            sink.WriteAscii(" xmlns=\""u8);
            sink.WriteEscaped(ns, s_attrSpecial);
            sink.WriteByte((byte)'"');
        }

        var attributes = element.Attributes;
        var declaredPrefixes = 0;
        for (var i = 0; i < attributes.Count; i++)
        {
            var a = attributes[i];
            var ans = a.Namespace ?? string.Empty;
            if (ans.Length == 0)
            {
                if (a.Name == "xmlns") continue;
                sink.WriteByte((byte)' ');
            }
            else if (ans == XmlNamespaces.Xml)
            {
                sink.WriteAscii(" xml:"u8);
            }
            else if (ans == XmlNamespaces.Xmlns)
            {
                continue;
            }
            else
            {
                // Reuse a prefix declared for an earlier attribute of this element in the same namespace.
                var prefix = 0;
                for (var j = 0; j < i && prefix == 0; j++)
                {
                    var other = attributes[j].Namespace;
                    if (other == ans) prefix = PrefixIndex(attributes, j);
                }
                if (prefix == 0)
                {
                    prefix = ++declaredPrefixes;
                    sink.WriteAscii(" xmlns:ns"u8);
                    sink.WriteInt(prefix);
                    sink.WriteAscii("=\""u8);
                    sink.WriteEscaped(ans, s_attrSpecial);
                    sink.WriteByte((byte)'"');
                }
                sink.WriteAscii(" ns"u8);
                sink.WriteInt(prefix);
                sink.WriteByte((byte)':');
            }
            sink.WriteUtf8(a.Name);
            sink.WriteAscii("=\""u8);
            sink.WriteEscaped(a.Value, s_attrSpecial);
            sink.WriteByte((byte)'"');
        }

        var children = element.Children;
        if (children.Count == 0)
        {
            sink.WriteAscii("/>"u8);
            return;
        }
        sink.WriteByte((byte)'>');
        for (var i = 0; i < children.Count; i++)
        {
            switch (children[i])
            {
                case XmlElement child:
                    WriteElement(ref sink, child, ns, depth + 1);
                    break;
                case XmlText text:
                    sink.WriteEscaped(text.Value, s_textSpecial);
                    break;
            }
        }
        sink.WriteAscii("</"u8);
        sink.WriteUtf8(element.Name);
        sink.WriteByte((byte)'>');
    }

    /// <summary>The prefix number the writer assigned to the namespaced attribute at <paramref name="index"/>.</summary>
    private static int PrefixIndex(IReadOnlyList<XmlAttribute> attributes, int index)
    {
        var count = 0;
        for (var j = 0; j <= index; j++)
        {
            var ns = attributes[j].Namespace ?? string.Empty;
            if (ns.Length == 0 || ns == XmlNamespaces.Xml || ns == XmlNamespaces.Xmlns) continue;
            var seen = false;
            for (var k = 0; k < j && !seen; k++) seen = attributes[k].Namespace == ns;
            if (!seen) count++;
            if (j == index) return count;
        }
        return count;
    }

    /// <summary>Writes into spans obtained from the buffer writer, advancing it in large steps.</summary>
    private ref struct Sink(IBufferWriter<byte> output)
    {
        private const int Chunk = 2048;
        private Span<byte> _span;
        private int _pos;

        public void Flush()
        {
            if (_pos > 0) output.Advance(_pos);
            _pos = 0;
            _span = default;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private Span<byte> Reserve(int bytes)
        {
            if (_span.Length - _pos < bytes) Grow(bytes);
            return _span[_pos..];
        }

        private void Grow(int bytes)
        {
            Flush();
            _span = output.GetSpan(Math.Max(bytes, Chunk));
        }

        public void WriteByte(byte b)
        {
            Reserve(1)[0] = b;
            _pos++;
        }

        public void WriteAscii(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(Reserve(bytes.Length));
            _pos += bytes.Length;
        }

        public void WriteInt(int value)
        {
            value.TryFormat(Reserve(11), out var n, default, System.Globalization.CultureInfo.InvariantCulture);
            _pos += n;
        }

        /// <summary>Writes text that needs no escaping (names) as UTF-8, in chunks that do not split surrogate pairs.</summary>
        public void WriteUtf8(ReadOnlySpan<char> chars)
        {
            while (!chars.IsEmpty)
            {
                var n = Math.Min(chars.Length, Chunk / 3);
                if (n < chars.Length && char.IsHighSurrogate(chars[n - 1])) n--;
                var dest = Reserve(n * 3);
                _pos += Encoding.UTF8.GetBytes(chars[..n], dest);
                chars = chars[n..];
            }
        }

        public void WriteEscaped(ReadOnlySpan<char> value, SearchValues<char> specials)
        {
            while (!value.IsEmpty)
            {
                var i = value.IndexOfAny(specials);
                if (i < 0)
                {
                    WriteUtf8(value);
                    return;
                }
                WriteUtf8(value[..i]);
                switch (value[i])
                {
                    case '&': WriteAscii("&amp;"u8); break;
                    case '<': WriteAscii("&lt;"u8); break;
                    case '>': WriteAscii("&gt;"u8); break;
                    case '"': WriteAscii("&quot;"u8); break;
                    case '\'': WriteAscii("&apos;"u8); break;
                    case '\t': WriteAscii("&#x9;"u8); break;
                    case '\n': WriteAscii("&#xA;"u8); break;
                    case '\r': WriteAscii("&#xD;"u8); break;
                    default: WriteAscii("\uFFFD"u8); break; // not an XML character
                }
                value = value[(i + 1)..];
            }
        }
    }
}
