using System.Buffers;
using System.Text;

namespace Tendril.Xml;

// Second step: builds elements from one complete, contiguous unit (see the remarks on the class).
public sealed partial class XmlStreamParser
{
    private static readonly SearchValues<byte> s_textSpecial = SearchValues.Create("&\r]"u8);
    private static readonly SearchValues<byte> s_attrSpecial = SearchValues.Create("&\r\n\t"u8);

    private struct RawAttribute
    {
        public int NameStart;
        public int NameLength;
        public int Colon;
        public int ValueStart;
        public int ValueLength;
        public bool IsDeclaration;
    }

    private struct Frame
    {
        public XmlElement Element;
        public int QNameStart;
        public int QNameLength;
        public int NsBefore;
    }

    private readonly NameTable.Cache _names;

    // In-scope namespace bindings; the first _rootNsCount belong to the stream header.
    private string[] _nsPrefixes = new string[8];
    private string[] _nsUris = new string[8];
    private int _nsCount;
    private int _rootNsCount;
    private string _rootDefaultNamespace = string.Empty;
    private byte[]? _rootQName;
    private static readonly byte[] s_streamQName = "stream:stream"u8.ToArray();

    // Scratch arrays used only while one unit (stream header or stanza) is parsed, which is synchronous: borrowed
    // from the parsing thread for that call, so an idle connection holds none of them (~1 KiB per connection,
    // measured by a heap walk of 3,000 idle sessions; docs/benchmarks.md).
    [ThreadStatic] private static Scratch? t_scratch;
    private Scratch? _scratch;
    private RawAttribute[] _attrs = null!;
    private Frame[] _frames = null!;

    // Character data being collected for the current text node: either one raw run that needs no decoding
    // (_rawStart >= 0: decoded straight into the final string) or decoded characters in _text.
    private char[] _text = null!;
    private int _textLength;
    private int _rawStart = -1;
    private int _rawEnd;

    private sealed class Scratch
    {
        public RawAttribute[] Attrs = new RawAttribute[8];
        public Frame[] Frames = new Frame[8];
        public readonly char[] Text = new char[256];
    }

    private void LeaseScratch()
    {
        var scratch = t_scratch ?? new Scratch();
        t_scratch = null;
        _scratch = scratch;
        _attrs = scratch.Attrs;
        _frames = scratch.Frames;
        _text = scratch.Text;
    }

    private void ReturnScratch()
    {
        var scratch = _scratch!;
        _scratch = null;
        // Grown arrays stay with the thread (bounded by the depth and attribute limits); element references go.
        Array.Clear(_frames);
        scratch.Frames = _frames;
        scratch.Attrs = _attrs;
        if (_text != scratch.Text) ArrayPool<char>.Shared.Return(_text);
        _attrs = null!;
        _frames = null!;
        _text = null!;
        _textLength = 0;
        t_scratch = scratch;
    }

    private XmlElement ParseStreamHeader(ReadOnlySpan<byte> s, out bool selfClosing)
    {
        _nsCount = 0;
        var p = 0;
        var root = ParseStartTag(s, ref p, out selfClosing, out var qStart, out var qLength);
        if (p != s.Length) throw Error(XmlParseError.NotWellFormed, "Unexpected data after the stream header.");
        _rootNsCount = _nsCount;
        var qName = s.Slice(qStart, qLength);
        _rootQName = qName.SequenceEqual(s_streamQName) ? s_streamQName : qName.ToArray();
        _rootDefaultNamespace = LookupNamespace(string.Empty) ?? string.Empty;
        return root;
    }

    private void ParseStreamEnd(ReadOnlySpan<byte> s)
    {
        var p = 2; // "</"
        var i = s[p..].IndexOfAny(XmlChars.NameEnd);
        var len = i < 0 ? s.Length - p : i;
        if (_rootQName is null || !s.Slice(p, len).SequenceEqual(_rootQName))
        {
            throw Error(XmlParseError.NotWellFormed, "The end tag does not match the stream header.");
        }
        p += len;
        SkipWhitespace(s, ref p);
        if (p != s.Length - 1 || s[p] != (byte)'>') throw Error(XmlParseError.NotWellFormed, "Malformed end tag.");
    }

    private XmlElement ParseStanza(ReadOnlySpan<byte> s)
    {
        _nsCount = _rootNsCount;
        _textLength = 0;
        _rawStart = -1;
        var p = 0;
        var nsBefore = _nsCount;
        var stanza = ParseStartTag(s, ref p, out var empty, out var qStart, out var qLength);
        if (empty)
        {
            if (p != s.Length) throw Error(XmlParseError.NotWellFormed, "Unexpected data after an element.");
            return stanza;
        }

        var depth = 0;
        _frames[depth++] = new Frame { Element = stanza, QNameStart = qStart, QNameLength = qLength, NsBefore = nsBefore };
        while (true)
        {
            var lt = p < s.Length ? s[p..].IndexOf((byte)'<') : -1;
            if (lt < 0) throw Error(XmlParseError.NotWellFormed, "Unexpected end of element.");
            if (lt > 0) AddText(s, p, p + lt);
            p += lt;
            var next = p + 1 < s.Length ? s[p + 1] : (byte)0;
            if (next == (byte)'/')
            {
                ref var f = ref _frames[depth - 1];
                FlushText(s, f.Element);
                p += 2;
                var i = s[p..].IndexOfAny(XmlChars.NameEnd);
                var len = i < 0 ? s.Length - p : i;
                if (!s.Slice(p, len).SequenceEqual(s.Slice(f.QNameStart, f.QNameLength)))
                {
                    throw Error(XmlParseError.NotWellFormed, "Mismatched end tag.");
                }
                p += len;
                SkipWhitespace(s, ref p);
                if (p >= s.Length || s[p] != (byte)'>') throw Error(XmlParseError.NotWellFormed, "Malformed end tag.");
                p++;
                _nsCount = f.NsBefore;
                f.Element = null!;
                if (--depth == 0)
                {
                    if (p != s.Length) throw Error(XmlParseError.NotWellFormed, "Unexpected data after an element.");
                    return stanza;
                }
            }
            else if (next == (byte)'!')
            {
                if (!s[p..].StartsWith("<![CDATA["u8))
                {
                    throw Error(s[p..].StartsWith("<!--"u8) ? XmlParseError.RestrictedXml : XmlParseError.NotWellFormed, "Unexpected markup declaration.");
                }
                p += 9;
                var e = s[p..].IndexOf("]]>"u8);
                if (e < 0) throw Error(XmlParseError.NotWellFormed, "Unterminated CDATA section.");
                MaterializeRawText(s);
                AppendNormalizedNewlines(s.Slice(p, e));
                p += e + 3;
            }
            else if (next == (byte)'?')
            {
                throw Error(XmlParseError.RestrictedXml, "Processing instructions are not allowed (RFC 6120 §11.1).");
            }
            else
            {
                var parent = _frames[depth - 1].Element;
                FlushText(s, parent);
                if (depth + 1 > Options.MaxDepth) throw Error(XmlParseError.TooDeep, $"Elements nested deeper than {Options.MaxDepth}.");
                nsBefore = _nsCount;
                var child = ParseStartTag(s, ref p, out empty, out qStart, out qLength);
                parent.Add(child);
                if (empty)
                {
                    _nsCount = nsBefore; // an empty element's declarations go out of scope immediately
                }
                else
                {
                    if (depth == _frames.Length) Array.Resize(ref _frames, depth * 2);
                    _frames[depth++] = new Frame { Element = child, QNameStart = qStart, QNameLength = qLength, NsBefore = nsBefore };
                }
            }
        }
    }

    private XmlElement ParseStartTag(ReadOnlySpan<byte> s, ref int p, out bool empty, out int qStart, out int qLength)
    {
        p++; // '<'
        qStart = p;
        var colon = ScanQName(s, ref p);
        qLength = p - qStart;
        var nsBefore = _nsCount;
        var count = 0;
        while (true)
        {
            var ws = SkipWhitespace(s, ref p);
            if (p >= s.Length) throw Error(XmlParseError.NotWellFormed, "Unterminated start tag.");
            var b = s[p];
            if (b == (byte)'>')
            {
                p++;
                empty = false;
                break;
            }
            if (b == (byte)'/')
            {
                if (p + 1 < s.Length && s[p + 1] == (byte)'>')
                {
                    p += 2;
                    empty = true;
                    break;
                }
                throw Error(XmlParseError.NotWellFormed, "'/' not followed by '>' in a start tag.");
            }
            if (ws == 0) throw Error(XmlParseError.NotWellFormed, "Attributes must be preceded by whitespace.");
            if (count >= Options.MaxAttributes)
            {
                throw Error(XmlParseError.TooManyAttributes, $"More than {Options.MaxAttributes} attributes on one element.");
            }
            if (count == _attrs.Length) Array.Resize(ref _attrs, count * 2);
            ref var a = ref _attrs[count];
            a.NameStart = p;
            a.Colon = ScanQName(s, ref p);
            a.NameLength = p - a.NameStart;
            SkipWhitespace(s, ref p);
            if (p >= s.Length || s[p] != (byte)'=') throw Error(XmlParseError.NotWellFormed, "Attribute without a value.");
            p++;
            SkipWhitespace(s, ref p);
            if (p >= s.Length || (s[p] != (byte)'"' && s[p] != (byte)'\''))
            {
                throw Error(XmlParseError.NotWellFormed, "Attribute values must be quoted.");
            }
            var quote = s[p++];
            var e = s[p..].IndexOf(quote);
            if (e < 0) throw Error(XmlParseError.NotWellFormed, "Unterminated attribute value.");
            if (s.Slice(p, e).Contains((byte)'<')) throw Error(XmlParseError.NotWellFormed, "'<' in an attribute value.");
            a.ValueStart = p;
            a.ValueLength = e;
            p += e + 1;
            count++;
        }

        // Namespace declarations first: they apply to the element's own name and attributes.
        var declarations = 0;
        for (var k = 0; k < count; k++)
        {
            ref var a = ref _attrs[k];
            var name = s.Slice(a.NameStart, a.NameLength);
            a.IsDeclaration = false;
            if (a.Colon < 0)
            {
                if (!name.SequenceEqual("xmlns"u8)) continue;
                a.IsDeclaration = true;
                declarations++;
                var uri = DecodeNamespace(s.Slice(a.ValueStart, a.ValueLength));
                if (uri == XmlNamespaces.Xml || uri == XmlNamespaces.Xmlns)
                {
                    throw Error(XmlParseError.NotWellFormed, "The xml and xmlns namespaces cannot be the default namespace.");
                }
                Bind(string.Empty, uri, nsBefore);
            }
            else if (a.Colon == 5 && name.StartsWith("xmlns"u8))
            {
                a.IsDeclaration = true;
                declarations++;
                var local = name[6..];
                var uri = DecodeNamespace(s.Slice(a.ValueStart, a.ValueLength));
                if (local.SequenceEqual("xmlns"u8)) throw Error(XmlParseError.NotWellFormed, "The xmlns prefix cannot be declared.");
                if (local.SequenceEqual("xml"u8))
                {
                    if (uri != XmlNamespaces.Xml) throw Error(XmlParseError.NotWellFormed, "The xml prefix cannot be rebound.");
                    continue;
                }
                if (uri.Length == 0) throw Error(XmlParseError.NotWellFormed, "A namespace prefix cannot be undeclared.");
                if (uri == XmlNamespaces.Xml || uri == XmlNamespaces.Xmlns)
                {
                    throw Error(XmlParseError.NotWellFormed, "The xml and xmlns namespaces cannot be bound to other prefixes.");
                }
                Bind(_names.Get(local), uri, nsBefore);
            }
        }

        var ns = colon < 0 ? LookupNamespace(string.Empty) ?? string.Empty : ResolvePrefix(s.Slice(qStart, colon));
        var element = new XmlElement(_names.Get(s.Slice(qStart + colon + 1, qLength - colon - 1)), ns);
        if (count == declarations) return element;

        for (var k = 0; k < count; k++)
        {
            ref var a = ref _attrs[k];
            if (a.IsDeclaration) continue;
            var aName = _names.Get(s.Slice(a.NameStart + a.Colon + 1, a.NameLength - a.Colon - 1));
            var aNs = a.Colon < 0 ? string.Empty : ResolvePrefix(s.Slice(a.NameStart, a.Colon));
            var existing = element.Attributes;
            for (var j = 0; j < existing.Count; j++)
            {
                if (existing[j].Name == aName && existing[j].Namespace == aNs)
                {
                    throw Error(XmlParseError.NotWellFormed, "Duplicate attribute.");
                }
            }
            element.AddAttributeUnchecked(new XmlAttribute(aName, DecodeAttributeValue(s.Slice(a.ValueStart, a.ValueLength)), aNs));
        }
        return element;
    }

    private int ScanQName(ReadOnlySpan<byte> s, ref int p)
    {
        var i = s[p..].IndexOfAny(XmlChars.NameEnd);
        var len = i < 0 ? s.Length - p : i;
        if (len > Options.MaxNameBytes)
        {
            throw Error(XmlParseError.NameTooLong, $"A name is longer than {Options.MaxNameBytes} bytes.");
        }
        var colon = XmlChars.ValidateQName(s.Slice(p, len));
        if (colon == -2) throw Error(XmlParseError.NotWellFormed, len == 0 ? "Missing name." : "Illegal name.");
        p += len;
        return colon;
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> s, ref int p)
    {
        var start = p;
        while (p < s.Length && XmlChars.IsWhitespace(s[p])) p++;
        return p - start;
    }

    // ---- namespaces -------------------------------------------------------------------------

    private void Bind(string prefix, string uri, int nsBefore)
    {
        for (var j = nsBefore; j < _nsCount; j++)
        {
            if (ReferenceEquals(_nsPrefixes[j], prefix) || _nsPrefixes[j] == prefix)
            {
                throw Error(XmlParseError.NotWellFormed, "Duplicate namespace declaration.");
            }
        }
        if (_nsCount == _nsPrefixes.Length)
        {
            Array.Resize(ref _nsPrefixes, _nsCount * 2);
            Array.Resize(ref _nsUris, _nsCount * 2);
        }
        _nsPrefixes[_nsCount] = prefix;
        _nsUris[_nsCount] = uri;
        _nsCount++;
    }

    private string? LookupNamespace(string prefix)
    {
        for (var j = _nsCount - 1; j >= 0; j--)
        {
            var p = _nsPrefixes[j];
            if (ReferenceEquals(p, prefix) || p == prefix) return _nsUris[j];
        }
        return null;
    }

    private string ResolvePrefix(ReadOnlySpan<byte> prefix)
    {
        if (prefix.SequenceEqual("xml"u8)) return XmlNamespaces.Xml;
        return LookupNamespace(_names.Get(prefix)) ?? throw Error(XmlParseError.NotWellFormed, "Unbound namespace prefix.");
    }

    private string DecodeNamespace(ReadOnlySpan<byte> raw)
    {
        if (raw.IndexOfAny(s_attrSpecial) < 0) return _names.Get(raw);
        return DecodeAttributeValue(raw);
    }

    // ---- character data ---------------------------------------------------------------------

    private string DecodeAttributeValue(ReadOnlySpan<byte> raw)
    {
        if (raw.IndexOfAny(s_attrSpecial) < 0) return NameTable.Cache.GetValue(raw);
        // Attributes are parsed only after pending text was flushed, so the text buffer is free.
        _textLength = 0;
        AppendDecoded(raw, attribute: true);
        var value = NameTable.Cache.GetValue(_text.AsSpan(0, _textLength));
        _textLength = 0;
        return value;
    }

    private void AddText(ReadOnlySpan<byte> s, int start, int end)
    {
        var run = s[start..end];
        if (_rawStart < 0 && _textLength == 0 && run.IndexOfAny(s_textSpecial) < 0)
        {
            _rawStart = start;
            _rawEnd = end;
            return;
        }
        MaterializeRawText(s);
        AppendDecoded(run, attribute: false);
    }

    private void MaterializeRawText(ReadOnlySpan<byte> s)
    {
        if (_rawStart < 0) return;
        AppendUtf8(s[_rawStart.._rawEnd]);
        _rawStart = -1;
    }

    private void FlushText(ReadOnlySpan<byte> s, XmlElement parent)
    {
        if (_rawStart >= 0)
        {
            parent.Add(new XmlText(Encoding.UTF8.GetString(s[_rawStart.._rawEnd])));
            _rawStart = -1;
        }
        else if (_textLength > 0)
        {
            parent.Add(new XmlText(new string(_text, 0, _textLength)));
            _textLength = 0;
        }
    }

    /// <summary>Decodes character data or an attribute value: references, line-end and (attributes) whitespace normalization.</summary>
    private void AppendDecoded(ReadOnlySpan<byte> raw, bool attribute)
    {
        var specials = attribute ? s_attrSpecial : s_textSpecial;
        while (!raw.IsEmpty)
        {
            var i = raw.IndexOfAny(specials);
            if (i < 0)
            {
                AppendUtf8(raw);
                return;
            }
            AppendUtf8(raw[..i]);
            switch (raw[i])
            {
                case (byte)'&':
                    raw = raw[AppendReference(raw, i)..];
                    continue;
                case (byte)'\r':
                    AppendChar(attribute ? ' ' : '\n');
                    if (i + 1 < raw.Length && raw[i + 1] == (byte)'\n') i++;
                    break;
                case (byte)']':
                    if (raw[i..].StartsWith("]]>"u8)) throw Error(XmlParseError.NotWellFormed, "']]>' in character data.");
                    AppendChar(']');
                    break;
                default: // '\n' or '\t' in an attribute value
                    AppendChar(' ');
                    break;
            }
            raw = raw[(i + 1)..];
        }
    }

    /// <summary>Appends the character a reference at <paramref name="amp"/> denotes; returns the index after its ';'.</summary>
    private int AppendReference(ReadOnlySpan<byte> raw, int amp)
    {
        var semi = raw[(amp + 1)..].IndexOf((byte)';');
        if (semi < 0) throw Error(XmlParseError.NotWellFormed, "'&' not starting a reference.");
        var name = raw.Slice(amp + 1, semi);
        if (name.Length > 1 && name[0] == (byte)'#')
        {
            var hex = name[1] == (byte)'x';
            var digits = name[(hex ? 2 : 1)..];
            if (digits.IsEmpty) throw Error(XmlParseError.NotWellFormed, "Malformed character reference.");
            var value = 0;
            foreach (var d in digits)
            {
                int v;
                if (d >= (byte)'0' && d <= (byte)'9') v = d - '0';
                else if (hex && (d | 0x20) >= 'a' && (d | 0x20) <= 'f') v = (d | 0x20) - 'a' + 10;
                else throw Error(XmlParseError.NotWellFormed, "Malformed character reference.");
                value = value * (hex ? 16 : 10) + v;
                if (value > 0x10FFFF) throw Error(XmlParseError.NotWellFormed, "Character reference out of range.");
            }
            if (!XmlChars.IsXmlChar(value)) throw Error(XmlParseError.NotWellFormed, "Character reference to an illegal character.");
            if (value < 0x10000)
            {
                AppendChar((char)value);
            }
            else
            {
                var r = new Rune(value);
                EnsureText(2);
                _textLength += r.EncodeToUtf16(_text.AsSpan(_textLength));
            }
        }
        else if (name.SequenceEqual("amp"u8)) AppendChar('&');
        else if (name.SequenceEqual("lt"u8)) AppendChar('<');
        else if (name.SequenceEqual("gt"u8)) AppendChar('>');
        else if (name.SequenceEqual("quot"u8)) AppendChar('"');
        else if (name.SequenceEqual("apos"u8)) AppendChar('\'');
        else if (XmlChars.ValidateQName(name) != -2)
        {
            throw Error(XmlParseError.RestrictedXml, "Entity references other than the predefined ones are not allowed (RFC 6120 §11.1).");
        }
        else
        {
            throw Error(XmlParseError.NotWellFormed, "Malformed entity reference.");
        }
        return amp + 1 + semi + 1;
    }

    private void AppendNormalizedNewlines(ReadOnlySpan<byte> raw)
    {
        while (!raw.IsEmpty)
        {
            var i = raw.IndexOf((byte)'\r');
            if (i < 0)
            {
                AppendUtf8(raw);
                return;
            }
            AppendUtf8(raw[..i]);
            AppendChar('\n');
            if (i + 1 < raw.Length && raw[i + 1] == (byte)'\n') i++;
            raw = raw[(i + 1)..];
        }
    }

    private void AppendUtf8(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty) return;
        EnsureText(utf8.Length);
        _textLength += Encoding.UTF8.GetChars(utf8, _text.AsSpan(_textLength));
    }

    private void AppendChar(char c)
    {
        EnsureText(1);
        _text[_textLength++] = c;
    }

    private void EnsureText(int extra)
    {
        if (_textLength + extra <= _text.Length) return;
        var bigger = ArrayPool<char>.Shared.Rent(Math.Max(_textLength + extra, _text.Length * 2));
        _text.AsSpan(0, _textLength).CopyTo(bigger);
        if (_text != _scratch!.Text) ArrayPool<char>.Shared.Return(_text);
        _text = bigger;
    }

    // ---- XML declaration --------------------------------------------------------------------

    private static void ParseXmlDeclaration(ReadOnlySpan<byte> s)
    {
        var body = s[2..^2]; // between "<?" and "?>"
        var t = body.IndexOfAny(XmlChars.Whitespace);
        var target = t < 0 ? body : body[..t];
        if (!target.SequenceEqual("xml"u8))
        {
            throw Error(XmlParseError.RestrictedXml, "Processing instructions are not allowed (RFC 6120 §11.1).");
        }
        if (t < 0) throw Error(XmlParseError.NotWellFormed, "XML declaration without a version.");
        var p = t;
        var field = 0; // 1 version, 2 encoding, 3 standalone
        while (true)
        {
            var ws = SkipWhitespace(body, ref p);
            if (p == body.Length) break;
            if (ws == 0) throw Error(XmlParseError.NotWellFormed, "Malformed XML declaration.");
            var n = body[p..].IndexOfAny("= \t\r\n"u8);
            if (n <= 0) throw Error(XmlParseError.NotWellFormed, "Malformed XML declaration.");
            var name = body.Slice(p, n);
            p += n;
            SkipWhitespace(body, ref p);
            if (p >= body.Length || body[p] != (byte)'=') throw Error(XmlParseError.NotWellFormed, "Malformed XML declaration.");
            p++;
            SkipWhitespace(body, ref p);
            if (p >= body.Length || (body[p] != (byte)'"' && body[p] != (byte)'\''))
            {
                throw Error(XmlParseError.NotWellFormed, "Malformed XML declaration.");
            }
            var quote = body[p++];
            var e = body[p..].IndexOf(quote);
            if (e < 0) throw Error(XmlParseError.NotWellFormed, "Malformed XML declaration.");
            var value = body.Slice(p, e);
            p += e + 1;

            if (name.SequenceEqual("version"u8) && field == 0)
            {
                field = 1;
                if (value.Length < 3 || !value.StartsWith("1."u8) || value[2..].IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
                {
                    throw Error(XmlParseError.NotWellFormed, "Unsupported XML version.");
                }
            }
            else if (name.SequenceEqual("encoding"u8) && field == 1)
            {
                field = 2;
                if (!Ascii.EqualsIgnoreCase(value, "UTF-8"u8))
                {
                    throw Error(XmlParseError.UnsupportedEncoding, "Only UTF-8 is supported (RFC 6120 §11.6).");
                }
            }
            else if (name.SequenceEqual("standalone"u8) && field is 1 or 2)
            {
                field = 3;
                if (!value.SequenceEqual("yes"u8) && !value.SequenceEqual("no"u8))
                {
                    throw Error(XmlParseError.NotWellFormed, "Malformed standalone declaration.");
                }
            }
            else
            {
                throw Error(XmlParseError.NotWellFormed, "Malformed XML declaration.");
            }
        }
        if (field == 0) throw Error(XmlParseError.NotWellFormed, "XML declaration without a version.");
    }
}
