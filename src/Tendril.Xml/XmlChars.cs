using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace Tendril.Xml;

/// <summary>Character classes of XML 1.0 (fifth edition) and Namespaces in XML.</summary>
internal static class XmlChars
{
    // Bit 1: NameStartChar (colon excluded: QNames are validated separately), bit 2: NameChar.
    private static readonly byte[] s_ascii = BuildAscii();

    /// <summary>XML whitespace: #x20 | #x9 | #xD | #xA.</summary>
    public static readonly SearchValues<byte> Whitespace = SearchValues.Create(" \t\r\n"u8);

    /// <summary>Bytes that are never legal in an XML 1.0 document (C0 controls other than tab, LF, CR).</summary>
    public static readonly SearchValues<byte> IllegalBytes = SearchValues.Create(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 0x0B, 0x0C, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F]);

    /// <summary>Bytes that end a name inside markup.</summary>
    public static readonly SearchValues<byte> NameEnd = SearchValues.Create(" \t\r\n/>=<\"'"u8);

    private static byte[] BuildAscii()
    {
        var t = new byte[128];
        for (var c = 'a'; c <= 'z'; c++) t[c] = 3;
        for (var c = 'A'; c <= 'Z'; c++) t[c] = 3;
        t['_'] = 3;
        for (var c = '0'; c <= '9'; c++) t[c] = 2;
        t['-'] = 2;
        t['.'] = 2;
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';

    /// <summary>Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].</summary>
    public static bool IsXmlChar(int c) =>
        c is 0x9 or 0xA or 0xD
        || (c >= 0x20 && c <= 0xD7FF)
        || (c >= 0xE000 && c <= 0xFFFD)
        || (c >= 0x10000 && c <= 0x10FFFF);

    public static bool IsNameStartChar(int c)
    {
        if (c < 128) return (s_ascii[c] & 1) != 0;
        return (c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xF6) || (c >= 0xF8 && c <= 0x2FF)
            || (c >= 0x370 && c <= 0x37D) || (c >= 0x37F && c <= 0x1FFF) || (c >= 0x200C && c <= 0x200D)
            || (c >= 0x2070 && c <= 0x218F) || (c >= 0x2C00 && c <= 0x2FEF) || (c >= 0x3001 && c <= 0xD7FF)
            || (c >= 0xF900 && c <= 0xFDCF) || (c >= 0xFDF0 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0xEFFFF);
    }

    public static bool IsNameChar(int c)
    {
        if (c < 128) return (s_ascii[c] & 2) != 0;
        return IsNameStartChar(c) || c == 0xB7 || (c >= 0x300 && c <= 0x36F) || (c >= 0x203F && c <= 0x2040);
    }

    /// <summary>
    /// Validates a QName (NCName or NCName:NCName) given as UTF-8 (already known to be valid UTF-8).
    /// Returns the index of the colon, or -1; returns -2 when the name is not a legal QName.
    /// </summary>
    public static int ValidateQName(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty) return -2;
        var colon = -1;
        var start = true;
        var i = 0;
        while (i < name.Length)
        {
            int c = name[i];
            int len = 1;
            if (c >= 0x80)
            {
                if (Rune.DecodeFromUtf8(name[i..], out var r, out len) != OperationStatus.Done) return -2;
                c = r.Value;
            }
            else if (c == ':')
            {
                if (colon >= 0 || start) return -2;
                colon = i;
                start = true;
                i++;
                continue;
            }
            if (start ? !IsNameStartChar(c) : !IsNameChar(c)) return -2;
            start = false;
            i += len;
        }
        return start ? -2 : colon;
    }
}
