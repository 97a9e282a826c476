using System.Buffers;
using System.Text.Unicode;

namespace Tendril.Xml;

/// <summary>
/// Incremental, namespace-aware XML parser over raw UTF-8 bytes for XMPP streams.
/// Input may be split at any byte; the parser keeps partial tokens internally and always consumes
/// everything it is given. Not thread-safe: one instance per stream.
/// </summary>
/// <remarks>
/// <para>
/// Parsing happens in two steps. A resumable byte scanner (this file) walks the input with vectorized
/// searches, tracks just enough lexical state (inside a tag, inside a quoted value, inside CDATA, element depth)
/// to find where a top-level unit (XML declaration, stream header, stanza, stream end tag) ends, and enforces the
/// limits that must hold before a unit is complete: <see cref="XmlParserOptions.MaxStanzaBytes"/> (checked
/// against the bytes seen so far, so an unterminated tag is stopped at the limit), <see cref="XmlParserOptions.MaxDepth"/>,
/// and the RFC 6120 §11.1 restrictions on comments, processing instructions and DTDs. When a unit is complete it is
/// handed, as one contiguous span, to the tree builder (XmlStreamParser.Tree.cs). If the unit lies within one input
/// segment that span is the input itself (no copy); otherwise the bytes were collected in a pooled scratch buffer.
/// Because both steps see exactly the same bytes regardless of how the input was chunked, events and errors do not
/// depend on chunking.
/// </para>
/// <para>
/// Error mapping: malformed UTF-8 (invalid, overlong, surrogate or truncated sequences) and an XML declaration naming
/// an encoding other than UTF-8 → <see cref="XmlParseError.UnsupportedEncoding"/>. Comments, processing
/// instructions (including an XML declaration anywhere but at the very start of the stream), DOCTYPE and other
/// <c>&lt;!</c> declarations, and entity references other than the five predefined ones →
/// <see cref="XmlParseError.RestrictedXml"/>. Everything else that is not namespace-well-formed →
/// <see cref="XmlParseError.NotWellFormed"/>.
/// </para>
/// </remarks>
public sealed partial class XmlStreamParser
{
    private enum State : byte
    {
        Outside,    // not inside a unit: between stanzas (or before the root / after its end)
        TagOpen,    // just after '<'
        StartTag,   // inside a start tag, outside quotes
        AttrValue,  // inside a quoted attribute value
        EndTag,     // inside an end tag
        Bang,       // after "<!", matching "[CDATA["
        CData,      // inside a CDATA section
        Decl,       // inside "<?...?>" at the start of the stream
        Content,    // character data inside a stanza
        Failed,
    }

    private enum Unit : byte
    {
        None,
        Undecided,
        Decl,
        RootStart,
        RootEnd,
        Stanza,
    }

    private static readonly SearchValues<byte> s_startTagStops = SearchValues.Create("><\"'"u8);
    private static readonly byte[] s_cdataOpen = "[CDATA["u8.ToArray();

    private State _state;
    private Unit _unit;
    private int _depth;           // open elements of the current stanza
    private byte _quote;
    private byte _lastTagByte;    // last byte seen inside a start tag (to recognize "/>")
    private int _counter;         // Bang: bytes of "[CDATA[" matched; CData: trailing ']' count; Decl: 1 after '?'
    private bool _atStart;        // nothing consumed yet: an XML declaration may follow
    private bool _unitAtStart;
    private bool _rootOpen;
    private bool _ended;
    private bool _pendingStreamEnd;
    private XmlParseError _failure;

    private byte[]? _pending;     // bytes of a unit that started in an earlier segment
    private int _pendingLength;

    public XmlStreamParser(XmlParserOptions? options = null)
    {
        Options = options ?? XmlParserOptions.Default;
        _names = new NameTable.Cache();
        Reset();
    }

    public XmlParserOptions Options { get; }

    /// <summary>Forgets all state (stream restart after STARTTLS or SASL, RFC 6120 §4.3.3).</summary>
    public void Reset()
    {
        _state = State.Outside;
        _unit = Unit.None;
        _depth = 0;
        _counter = 0;
        _atStart = true;
        _unitAtStart = false;
        _rootOpen = false;
        _ended = false;
        _pendingStreamEnd = false;
        _rootQName = null;
        _rootDefaultNamespace = string.Empty;
        _rootNsCount = 0;
        _nsCount = 0;
        if (_pending is { Length: > 16 * 1024 })
        {
            ArrayPool<byte>.Shared.Return(_pending);
            _pending = null;
        }
        _pendingLength = 0;
    }

    /// <summary>
    /// Parses from <paramref name="buffer"/> until one event is complete or the input is exhausted.
    /// On return <paramref name="buffer"/> is sliced to what has not been consumed yet (empty when false is returned).
    /// Throws <see cref="XmlParseException"/> on bad input; the parser is then unusable until <see cref="Reset"/>.
    /// </summary>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, out XmlStreamEvent ev)
    {
        if (_state == State.Failed) throw new XmlParseException(_failure, "The parser failed earlier; call Reset() before reusing it.");
        if (_pendingStreamEnd)
        {
            _pendingStreamEnd = false;
            ev = new XmlStreamEvent(XmlStreamEventKind.StreamEnd, null);
            return true;
        }

        try
        {
            if (buffer.IsSingleSegment)
            {
                if (Scan(buffer.FirstSpan, out var consumed, out ev))
                {
                    buffer = buffer.Slice(consumed);
                    return true;
                }
                buffer = buffer.Slice(buffer.End);
                return false;
            }

            var next = buffer.Start;
            var current = next;
            while (buffer.TryGet(ref next, out var memory))
            {
                if (memory.Length != 0 && Scan(memory.Span, out var consumed, out ev))
                {
                    buffer = buffer.Slice(buffer.GetPosition(consumed, current));
                    return true;
                }
                current = next;
            }
            buffer = buffer.Slice(buffer.End);
            ev = default;
            return false;
        }
        catch (XmlParseException e)
        {
            _state = State.Failed;
            _failure = e.Error;
            throw;
        }
    }

    /// <summary>Scans one segment; returns true (with the bytes consumed) as soon as an event is complete.</summary>
    private bool Scan(ReadOnlySpan<byte> seg, out int consumed, out XmlStreamEvent ev)
    {
        var pos = 0;
        var unitStart = 0; // index in seg where the current unit's bytes in this segment begin
        while (true)
        {
            if (_unit == Unit.None)
            {
                if (pos == seg.Length)
                {
                    consumed = pos;
                    ev = default;
                    return false;
                }
                var i = seg[pos..].IndexOfAnyExcept(XmlChars.Whitespace);
                if (i < 0)
                {
                    _atStart = false;
                    pos = seg.Length;
                    continue;
                }
                if (i > 0) _atStart = false;
                pos += i;
                if (seg[pos] != (byte)'<')
                {
                    throw Error(XmlParseError.NotWellFormed, _rootOpen || Options.FragmentMode
                        ? "Character data is not allowed between top-level elements."
                        : "Character data is not allowed before the stream header.");
                }
                if (_ended) throw Error(XmlParseError.NotWellFormed, "Content after the end of the stream.");
                unitStart = pos;
                _unitAtStart = _atStart;
                _atStart = false;
                _unit = Unit.Undecided;
                _state = State.TagOpen;
                _pendingLength = 0;
                pos++;
            }

            // Inside a unit: never look beyond the byte that would exceed the size limit.
            var allowed = (long)Options.MaxStanzaBytes - _pendingLength + unitStart;
            var end = allowed < seg.Length ? (int)Math.Max(allowed, pos) : seg.Length;
            if (ScanUnit(seg, ref pos, end))
            {
                ReadOnlySpan<byte> unit;
                if (_pendingLength == 0)
                {
                    unit = seg[unitStart..pos];
                }
                else
                {
                    AppendPending(seg[unitStart..pos]);
                    unit = _pending.AsSpan(0, _pendingLength);
                }
                var kind = _unit;
                _unit = Unit.None;
                _state = State.Outside;
                _depth = 0;
                var produced = CompleteUnit(kind, unit, out ev);
                _pendingLength = 0;
                if (produced)
                {
                    consumed = pos;
                    return true;
                }
                continue;
            }

            if (end < seg.Length)
            {
                throw Error(XmlParseError.StanzaTooLarge, $"A top-level element exceeds {Options.MaxStanzaBytes} bytes.");
            }
            AppendPending(seg[unitStart..]);
            consumed = seg.Length;
            ev = default;
            return false;
        }
    }

    /// <summary>Advances through the current unit up to <paramref name="end"/>; true when the unit is complete.</summary>
    private bool ScanUnit(ReadOnlySpan<byte> seg, ref int pos, int end)
    {
        while (pos < end)
        {
            switch (_state)
            {
                case State.Content:
                {
                    var i = seg[pos..end].IndexOf((byte)'<');
                    if (i < 0)
                    {
                        pos = end;
                        return false;
                    }
                    pos += i + 1;
                    _state = State.TagOpen;
                    break;
                }
                case State.TagOpen:
                {
                    var b = seg[pos];
                    if (b == (byte)'/')
                    {
                        pos++;
                        _state = State.EndTag;
                        if (_depth == 0)
                        {
                            if (!_rootOpen) throw Error(XmlParseError.NotWellFormed, "End tag without a matching start tag.");
                            _unit = Unit.RootEnd;
                        }
                    }
                    else if (b == (byte)'!')
                    {
                        pos++;
                        _state = State.Bang;
                        _counter = 0;
                    }
                    else if (b == (byte)'?')
                    {
                        if (_depth != 0 || !_unitAtStart)
                        {
                            throw Error(XmlParseError.RestrictedXml, "Processing instructions are not allowed (RFC 6120 §11.1).");
                        }
                        pos++;
                        _state = State.Decl;
                        _unit = Unit.Decl;
                        _counter = 0;
                    }
                    else
                    {
                        _state = State.StartTag;
                        _lastTagByte = 0;
                        if (_depth == 0) _unit = Options.FragmentMode || _rootOpen ? Unit.Stanza : Unit.RootStart;
                    }
                    break;
                }
                case State.StartTag:
                {
                    var i = seg[pos..end].IndexOfAny(s_startTagStops);
                    if (i < 0)
                    {
                        _lastTagByte = seg[end - 1];
                        pos = end;
                        return false;
                    }
                    var b = seg[pos + i];
                    var prev = i > 0 ? seg[pos + i - 1] : _lastTagByte;
                    pos += i + 1;
                    if (b == (byte)'>')
                    {
                        if (_unit == Unit.RootStart) return true;
                        if (_depth + 1 > Options.MaxDepth)
                        {
                            throw Error(XmlParseError.TooDeep, $"Elements nested deeper than {Options.MaxDepth}.");
                        }
                        if (prev == (byte)'/')
                        {
                            if (_depth == 0) return true;
                        }
                        else
                        {
                            _depth++;
                        }
                        _state = State.Content;
                    }
                    else if (b == (byte)'<')
                    {
                        throw Error(XmlParseError.NotWellFormed, "'<' inside a tag.");
                    }
                    else
                    {
                        _quote = b;
                        _state = State.AttrValue;
                    }
                    break;
                }
                case State.AttrValue:
                {
                    var i = seg[pos..end].IndexOfAny(_quote, (byte)'<');
                    if (i < 0)
                    {
                        pos = end;
                        return false;
                    }
                    if (seg[pos + i] == (byte)'<') throw Error(XmlParseError.NotWellFormed, "'<' in an attribute value.");
                    pos += i + 1;
                    _lastTagByte = _quote;
                    _state = State.StartTag;
                    break;
                }
                case State.EndTag:
                {
                    var i = seg[pos..end].IndexOfAny((byte)'>', (byte)'<');
                    if (i < 0)
                    {
                        pos = end;
                        return false;
                    }
                    if (seg[pos + i] == (byte)'<') throw Error(XmlParseError.NotWellFormed, "'<' inside an end tag.");
                    pos += i + 1;
                    if (_unit == Unit.RootEnd) return true;
                    if (--_depth == 0) return true;
                    _state = State.Content;
                    break;
                }
                case State.Bang:
                {
                    var b = seg[pos];
                    if (_counter == 0)
                    {
                        if (b == (byte)'-') throw Error(XmlParseError.RestrictedXml, "Comments are not allowed (RFC 6120 §11.1).");
                        if ((uint)((b | 0x20) - 'a') <= 'z' - 'a')
                        {
                            throw Error(XmlParseError.RestrictedXml, "DTDs and markup declarations are not allowed (RFC 6120 §11.1).");
                        }
                        if (b != (byte)'[') throw Error(XmlParseError.NotWellFormed, "Malformed markup after '<!'.");
                        if (_depth == 0) throw Error(XmlParseError.NotWellFormed, "CDATA section outside of an element.");
                    }
                    else if (b != s_cdataOpen[_counter])
                    {
                        throw Error(XmlParseError.NotWellFormed, "Malformed CDATA section start.");
                    }
                    pos++;
                    if (++_counter == s_cdataOpen.Length)
                    {
                        _state = State.CData;
                        _counter = 0;
                    }
                    break;
                }
                case State.CData:
                {
                    var b = seg[pos];
                    if (b == (byte)']')
                    {
                        _counter++;
                        pos++;
                    }
                    else if (b == (byte)'>' && _counter >= 2)
                    {
                        pos++;
                        _counter = 0;
                        _state = State.Content;
                    }
                    else
                    {
                        _counter = 0;
                        var i = seg[pos..end].IndexOf((byte)']');
                        pos = i < 0 ? end : pos + i;
                    }
                    break;
                }
                case State.Decl:
                {
                    var b = seg[pos];
                    if (b == (byte)'>' && _counter == 1)
                    {
                        pos++;
                        return true;
                    }
                    if (b == (byte)'?')
                    {
                        _counter = 1;
                        pos++;
                    }
                    else
                    {
                        _counter = 0;
                        var i = seg[pos..end].IndexOfAny((byte)'?', (byte)'<');
                        if (i >= 0 && seg[pos + i] == (byte)'<') throw Error(XmlParseError.NotWellFormed, "'<' inside the XML declaration.");
                        pos = i < 0 ? end : pos + i;
                    }
                    break;
                }
                default:
                    throw new InvalidOperationException("Unexpected parser state " + _state);
            }
        }
        return false;
    }

    private void AppendPending(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        var need = _pendingLength + bytes.Length;
        if (_pending is null || _pending.Length < need)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(need, Math.Max(1024, (_pending?.Length ?? 0) * 2)));
            if (_pending is not null)
            {
                _pending.AsSpan(0, _pendingLength).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_pending);
            }
            _pending = bigger;
        }
        bytes.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength = need;
    }

    private bool CompleteUnit(Unit kind, ReadOnlySpan<byte> unit, out XmlStreamEvent ev)
    {
        ValidateCharacters(unit);
        switch (kind)
        {
            case Unit.Decl:
                ParseXmlDeclaration(unit);
                ev = default;
                return false;
            case Unit.RootStart:
            {
                var root = ParseStreamHeader(unit, out var selfClosing);
                _rootOpen = true;
                if (selfClosing)
                {
                    _ended = true;
                    _pendingStreamEnd = true;
                }
                ev = new XmlStreamEvent(XmlStreamEventKind.StreamStart, root, _rootDefaultNamespace);
                return true;
            }
            case Unit.RootEnd:
                ParseStreamEnd(unit);
                _ended = true;
                ev = new XmlStreamEvent(XmlStreamEventKind.StreamEnd, null);
                return true;
            case Unit.Stanza:
            {
                var stanza = ParseStanza(unit);
                ev = new XmlStreamEvent(XmlStreamEventKind.Stanza, stanza, _rootDefaultNamespace);
                return true;
            }
            default:
                throw new InvalidOperationException("Unexpected unit " + kind);
        }
    }

    /// <summary>The whole unit must be UTF-8 and consist of legal XML characters.</summary>
    private static void ValidateCharacters(ReadOnlySpan<byte> unit)
    {
        if (!Utf8.IsValid(unit)) throw Error(XmlParseError.UnsupportedEncoding, "The input is not valid UTF-8.");
        if (unit.IndexOfAny(XmlChars.IllegalBytes) >= 0) throw Error(XmlParseError.NotWellFormed, "Illegal control character.");
        // U+FFFE and U+FFFF are not XML characters: EF BF BE / EF BF BF.
        ReadOnlySpan<byte> efbf = [0xEF, 0xBF];
        var rest = unit;
        int i;
        while ((i = rest.IndexOf(efbf)) >= 0)
        {
            if (i + 2 < rest.Length && rest[i + 2] >= 0xBE) throw Error(XmlParseError.NotWellFormed, "Illegal character U+FFFE/U+FFFF.");
            rest = rest[(i + 2)..];
        }
    }

    private static XmlParseException Error(XmlParseError error, string message) => new(error, message);
}
