using System.Buffers;
using System.Numerics;
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
/// and the RFC 6120 §11.1 restrictions on comments, processing instructions and DTDs. It also rejects, at the byte
/// where they become certain, the errors that would otherwise leave it waiting for bytes a well-formed document never
/// needs: an end tag whose name differs from its start tag's (compared by a fingerprint of the raw qualified name
/// kept per open element, see <see cref="NameFingerprint"/>), start tag names that do not end at whitespace, '/' or
/// '>', a quote not preceded by '=', an '=' not followed by a quote, attributes not separated by whitespace,
/// '/' not followed by '>', anything but whitespace between an end tag's name and its '>', and the name length and
/// attribute count limits. The tree builder still checks all of this exactly. When a unit is complete it is
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
        StartName,  // inside the name of a start tag
        StartTag,   // inside a start tag after its name, outside quotes
        AfterEq,    // after an attribute's '=', before the opening quote
        AttrValue,  // inside a quoted attribute value
        AfterValue, // just after an attribute value's closing quote
        EmptyEnd,   // after the '/' of "/>"
        EndName,    // inside the name of an end tag
        EndTag,     // inside an end tag after its name
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

    private static readonly SearchValues<byte> s_startTagStops = SearchValues.Create("></='\""u8);
    private static readonly byte[] s_cdataOpen = "[CDATA["u8.ToArray();

    private State _state;
    private Unit _unit;
    private int _depth;           // open elements of the current stanza
    private byte _quote;
    private bool _attrName;       // StartTag: a non-whitespace byte (an attribute name) since the last stop
    private int _attrCount;       // attributes of the current start tag
    private NameFingerprint _name;    // name of the current start or end tag, as far as scanned
    private NameFingerprint _rootName;
    private NameFingerprint[] _open = new NameFingerprint[8]; // names of the open elements of the current stanza
    private int _counter;         // Bang: bytes of "[CDATA[" matched; CData: trailing ']' count; Decl: 1 after '?'
    private bool _atStart;        // nothing consumed yet: an XML declaration may follow
    private bool _restarted;      // Restart(): whitespace before the first unit belongs to the previous stream
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

    /// <summary>
    /// Forgets all state: the next byte is the first of a new document (a new connection, a TLS layer, a WebSocket
    /// message). An XML declaration is allowed only at that very byte (XML 1.0 §2.8).
    /// </summary>
    public void Reset()
    {
        _restarted = false;
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
    /// Forgets all state for a stream restart on the same byte stream (after SASL success, RFC 6120 §4.3.3 and
    /// §6.4.6). Whitespace the client wrote after its last element of the old stream (e.g. <c>&lt;/auth&gt;\n</c>)
    /// belongs to the old stream, where whitespace between top-level elements is allowed, so it does not keep the new
    /// stream's XML declaration from being "at the start". Anything else before the declaration is still refused.
    /// </summary>
    public void Restart()
    {
        Reset();
        _restarted = true;
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
                    if (!_restarted) _atStart = false;
                    pos = seg.Length;
                    continue;
                }
                if (i > 0 && !_restarted) _atStart = false;
                _restarted = false;
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
                        _state = State.EndName;
                        _name = default;
                        if (_depth == 0)
                        {
                            if (!_rootOpen) throw Error(XmlParseError.NotWellFormed, "End tag without a matching start tag.");
                            _unit = Unit.RootEnd;
                        }
                        if (pos < end) goto case State.EndName;
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
                        if (_depth == 0) _unit = Options.FragmentMode || _rootOpen ? Unit.Stanza : Unit.RootStart;
                        // Checked before the tag, as the tree builder does.
                        if (_unit != Unit.RootStart && _depth + 1 > Options.MaxDepth)
                        {
                            throw Error(XmlParseError.TooDeep, $"Elements nested deeper than {Options.MaxDepth}.");
                        }
                        _state = State.StartName;
                        _name = default;
                        goto case State.StartName;
                    }
                    break;
                }
                case State.StartName:
                {
                    var n = _name.AppendName(seg[pos..end], Options.MaxNameBytes);
                    if (n < 0) throw Error(XmlParseError.NameTooLong, $"A name is longer than {Options.MaxNameBytes} bytes.");
                    pos += n;
                    if (pos == end) return false;
                    // STag ::= '<' Name (S Attribute)* S? '>': the name ends at whitespace, '/' or '>'.
                    var b = seg[pos];
                    if (_name.Length == 0) throw Error(XmlParseError.NotWellFormed, "Missing name.");
                    if (!XmlChars.IsWhitespace(b) && b != (byte)'/' && b != (byte)'>')
                    {
                        throw Error(XmlParseError.NotWellFormed, b == (byte)'<' ? "'<' inside a tag." : "Illegal name.");
                    }
                    if (_unit == Unit.RootStart) _rootName = _name;
                    _attrName = false;
                    _attrCount = 0;
                    _state = State.StartTag;
                    break;
                }
                case State.StartTag:
                {
                    // Between stops there is only whitespace and attribute names; names are validated by the tree builder.
                    var rest = seg[pos..end];
                    var i = rest.IndexOfAny(s_startTagStops);
                    if (i < 0)
                    {
                        _attrName = _attrName || rest.ContainsAnyExcept(XmlChars.Whitespace);
                        pos = end;
                        return false;
                    }
                    var b = rest[i];
                    // Usually the stop follows the name directly ("to=") or nothing at all ("'>").
                    var named = i > 0
                        ? !XmlChars.IsWhitespace(rest[i - 1]) || _attrName || rest[..i].ContainsAnyExcept(XmlChars.Whitespace)
                        : _attrName;
                    pos += i + 1;
                    if (b == (byte)'=')
                    {
                        if (++_attrCount > Options.MaxAttributes)
                        {
                            throw Error(XmlParseError.TooManyAttributes, $"More than {Options.MaxAttributes} attributes on one element.");
                        }
                        if (!named) throw Error(XmlParseError.NotWellFormed, "Missing name.");
                        if (pos < end && seg[pos] is (byte)'\'' or (byte)'"')
                        {
                            _quote = seg[pos++];
                            _state = State.AttrValue;
                        }
                        else
                        {
                            _state = State.AfterEq;
                        }
                    }
                    else if (b == (byte)'>')
                    {
                        if (named) throw Error(XmlParseError.NotWellFormed, "Attribute without a value.");
                        if (EndStartTag(empty: false)) return true;
                    }
                    else if (b == (byte)'/')
                    {
                        if (named) throw Error(XmlParseError.NotWellFormed, "Attribute without a value.");
                        _state = State.EmptyEnd;
                    }
                    else if (b == (byte)'<')
                    {
                        throw Error(XmlParseError.NotWellFormed, "'<' inside a tag.");
                    }
                    else
                    {
                        throw Error(XmlParseError.NotWellFormed, named ? "Attribute without a value." : "Missing name.");
                    }
                    break;
                }
                case State.AfterEq:
                {
                    // Eq ::= S? '=' S?, then a quoted value.
                    var b = seg[pos++];
                    if (b == (byte)'"' || b == (byte)'\'')
                    {
                        _quote = b;
                        _state = State.AttrValue;
                    }
                    else if (!XmlChars.IsWhitespace(b))
                    {
                        throw Error(XmlParseError.NotWellFormed, "Attribute values must be quoted.");
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
                    if (pos < end) AfterValue(seg[pos], ref pos);
                    else _state = State.AfterValue;
                    break;
                }
                case State.AfterValue:
                {
                    AfterValue(seg[pos], ref pos);
                    break;
                }
                case State.EmptyEnd:
                {
                    if (seg[pos] != (byte)'>') throw Error(XmlParseError.NotWellFormed, "'/' not followed by '>' in a start tag.");
                    pos++;
                    if (EndStartTag(empty: true)) return true;
                    break;
                }
                case State.EndName:
                {
                    // The name must equal the start tag's; compared by fingerprint as soon as it ends (or grows too long).
                    ref readonly var expected = ref _unit == Unit.RootEnd ? ref _rootName : ref _open[_depth - 1];
                    var n = _name.AppendName(seg[pos..end], expected.Length);
                    if (n < 0) throw Error(XmlParseError.NotWellFormed, "Mismatched end tag.");
                    pos += n;
                    if (pos == end) return false;
                    if (!_name.Equals(expected)) throw Error(XmlParseError.NotWellFormed, "Mismatched end tag.");
                    if (seg[pos] == (byte)'>')
                    {
                        pos++;
                        if (_unit == Unit.RootEnd || --_depth == 0) return true;
                        _state = State.Content;
                    }
                    else
                    {
                        _state = State.EndTag;
                    }
                    break;
                }
                case State.EndTag:
                {
                    // ETag ::= '</' Name S? '>'
                    var i = seg[pos..end].IndexOfAnyExcept(XmlChars.Whitespace);
                    if (i < 0)
                    {
                        pos = end;
                        return false;
                    }
                    if (seg[pos + i] != (byte)'>')
                    {
                        throw Error(XmlParseError.NotWellFormed, seg[pos + i] == (byte)'<' ? "'<' inside an end tag." : "Malformed end tag.");
                    }
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

    /// <summary>After an attribute value's closing quote: whitespace separates attributes; otherwise only "/>" or ">" may follow.</summary>
    private void AfterValue(byte b, ref int pos)
    {
        if (XmlChars.IsWhitespace(b)) pos++;
        else if (b != (byte)'/' && b != (byte)'>') throw Error(XmlParseError.NotWellFormed, "Attributes must be preceded by whitespace.");
        _attrName = false;
        _state = State.StartTag;
    }

    /// <summary>At the '>' of a start tag: true when the unit is complete; otherwise continues with its content.</summary>
    private bool EndStartTag(bool empty)
    {
        if (_unit == Unit.RootStart) return true;
        if (empty)
        {
            if (_depth == 0) return true;
        }
        else
        {
            if (_depth == _open.Length) Array.Resize(ref _open, _depth * 2);
            _open[_depth++] = _name;
        }
        _state = State.Content;
        return false;
    }

    /// <summary>
    /// Incremental fingerprint of a qualified name's raw bytes, independent of how they were split across inputs:
    /// the bytes are packed little-endian into 64-bit words; full words are mixed into <see cref="Hash"/>, the last
    /// partial word is kept as is. Names of up to 16 bytes are represented exactly; for longer ones a collision only
    /// defers the mismatch to the tree builder, which compares the bytes.
    /// </summary>
    private struct NameFingerprint
    {
        public ulong Hash;
        public ulong Tail;
        public int Length;

        // The bytes of XmlChars.NameEnd (" \t\r\n/>=<\"'"), all below 64.
        private const ulong NameEndMask =
            1UL << ' ' | 1UL << '\t' | 1UL << '\r' | 1UL << '\n' | 1UL << '/' | 1UL << '>' | 1UL << '=' | 1UL << '<' | 1UL << '"' | 1UL << '\'';

        /// <summary>
        /// Appends the bytes before the first one that ends a name (all of them if none does) and returns how many;
        /// -1 as soon as the name would grow longer than <paramref name="maxLength"/>. Names are short, so a scalar
        /// loop that hashes as it searches beats a vectorized search followed by hashing.
        /// </summary>
        public int AppendName(ReadOnlySpan<byte> bytes, int maxLength)
        {
            var h = Hash;
            var w = Tail;
            var n = Length;
            var i = 0;
            for (; i < bytes.Length; i++)
            {
                var b = bytes[i];
                if (b < 64 && ((NameEndMask >> b) & 1) != 0) break;
                if (n == maxLength) return -1;
                w |= (ulong)b << ((n & 7) << 3);
                if ((++n & 7) == 0)
                {
                    h = BitOperations.RotateLeft((h ^ w) * 0x9E3779B97F4A7C15UL, 27);
                    w = 0;
                }
            }
            Hash = h;
            Tail = w;
            Length = n;
            return i;
        }

        public readonly bool Equals(in NameFingerprint other) => Hash == other.Hash && Tail == other.Tail && Length == other.Length;
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
                XmlElement root;
                bool selfClosing;
                LeaseScratch();
                try
                {
                    root = ParseStreamHeader(unit, out selfClosing);
                }
                finally
                {
                    ReturnScratch();
                }
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
                XmlElement stanza;
                LeaseScratch();
                try
                {
                    stanza = ParseStanza(unit);
                }
                finally
                {
                    ReturnScratch();
                }
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
