using System.Globalization;
using System.Text;

namespace Tendril.Protocol.Sasl;

/// <summary>
/// SASLprep (RFC 4013), the stringprep (RFC 3454) profile for user names and passwords.
/// Unassigned code points (table A.1) are not checked, i.e. strings are treated as "queries".
/// </summary>
public static class SaslPrep
{
    /// <summary>Prepares <paramref name="input"/>; returns false when it contains prohibited characters or violates the bidi rules.</summary>
    public static bool TryPrepare(string input, out string result)
    {
        ArgumentNullException.ThrowIfNull(input);
        result = string.Empty;

        // Fast path: printable ASCII needs no mapping or normalization and contains nothing prohibited.
        var ascii = true;
        foreach (var c in input)
        {
            if (c < 0x20 || c > 0x7E)
            {
                ascii = false;
                break;
            }
        }
        if (ascii)
        {
            result = input;
            return true;
        }

        // 1. Mapping: non-ASCII spaces (C.1.2) → SPACE; commonly mapped to nothing (B.1) → removed.
        var sb = new StringBuilder(input.Length);
        for (var i = 0; i < input.Length; i++)
        {
            var c = input[i];
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= input.Length || !char.IsLowSurrogate(input[i + 1]))
                    return false; // C.5
                sb.Append(c).Append(input[++i]);
                continue;
            }
            if (char.IsLowSurrogate(c))
                return false; // C.5
            if (IsMappedToNothing(c))
                continue;
            sb.Append(IsNonAsciiSpace(c) ? ' ' : c);
        }

        // 2. Normalization: NFKC.
        string normalized;
        try
        {
            normalized = sb.ToString().Normalize(NormalizationForm.FormKC);
        }
        catch (ArgumentException)
        {
            return false;
        }

        // 3. Prohibited output, 4. bidi.
        var hasRandAL = false;
        var hasL = false;
        var firstRandAL = false;
        var lastRandAL = false;
        var first = true;
        for (var i = 0; i < normalized.Length; i++)
        {
            int cp = normalized[i];
            if (char.IsHighSurrogate(normalized[i]) && i + 1 < normalized.Length && char.IsLowSurrogate(normalized[i + 1]))
                cp = char.ConvertToUtf32(normalized[i], normalized[++i]);
            if (IsProhibited(cp))
                return false;
            var randAL = IsRandALCat(cp);
            hasRandAL |= randAL;
            hasL |= !randAL && IsLCat(cp);
            if (first)
                firstRandAL = randAL;
            lastRandAL = randAL;
            first = false;
        }
        if (hasRandAL && (hasL || !firstRandAL || !lastRandAL))
            return false;

        result = normalized;
        return true;
    }

    /// <summary>Prepares <paramref name="input"/> or throws <see cref="ArgumentException"/>.</summary>
    public static string Prepare(string input, string? paramName = null) =>
        TryPrepare(input, out var result) ? result : throw new ArgumentException("The string contains characters prohibited by SASLprep.", paramName ?? nameof(input));

    // RFC 3454 C.1.2
    internal static bool IsNonAsciiSpace(int c) =>
        c == 0x00A0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200B) || c == 0x202F || c == 0x205F || c == 0x3000;

    // RFC 3454 B.1 (U+200B is also in C.1.2; mapping to nothing takes precedence here)
    internal static bool IsMappedToNothing(int c) =>
        c == 0x00AD || c == 0x034F || c == 0x1806 || (c >= 0x180B && c <= 0x180D) || (c >= 0x200B && c <= 0x200D)
        || c == 0x2060 || (c >= 0xFE00 && c <= 0xFE0F) || c == 0xFEFF;

    internal static bool IsProhibited(int c)
    {
        if (c < 0x80)
            return c < 0x20 || c == 0x7F; // C.2.1
        return IsNonAsciiSpace(c) // C.1.2
            || c <= 0x9F // C.2.2
            || c == 0x06DD || c == 0x070F || c == 0x180E || c == 0x200C || c == 0x200D || c == 0x2028 || c == 0x2029
            || (c >= 0x2060 && c <= 0x2063) || (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC)
            || (c >= 0x1D173 && c <= 0x1D17A)
            || (c >= 0xE000 && c <= 0xF8FF) || (c >= 0xF0000 && c <= 0xFFFFD) || (c >= 0x100000 && c <= 0x10FFFD) // C.3
            || (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE // C.4
            || (c >= 0xD800 && c <= 0xDFFF) // C.5
            || (c >= 0xFFF9 && c <= 0xFFFD) // C.6
            || (c >= 0x2FF0 && c <= 0x2FFB) // C.7
            || c == 0x0340 || c == 0x0341 || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) // C.8
            || c == 0xE0001 || (c >= 0xE0020 && c <= 0xE007F); // C.9
    }

    // RFC 3454 D.1 (characters with bidi property R or AL), exactly.
    private static readonly int[] RandAL =
    [
        0x05BE, 0x05BE, 0x05C0, 0x05C0, 0x05C3, 0x05C3, 0x05D0, 0x05EA, 0x05F0, 0x05F4, 0x061B, 0x061B, 0x061F, 0x061F,
        0x0621, 0x063A, 0x0640, 0x064A, 0x066D, 0x066F, 0x0671, 0x06D5, 0x06DD, 0x06DD, 0x06E5, 0x06E6, 0x06FA, 0x06FE,
        0x0700, 0x070D, 0x0710, 0x0710, 0x0712, 0x072C, 0x0780, 0x07A5, 0x07B1, 0x07B1, 0x200F, 0x200F, 0xFB1D, 0xFB1D,
        0xFB1F, 0xFB28, 0xFB2A, 0xFB36, 0xFB38, 0xFB3C, 0xFB3E, 0xFB3E, 0xFB40, 0xFB41, 0xFB43, 0xFB44, 0xFB46, 0xFBB1,
        0xFBD3, 0xFD3D, 0xFD50, 0xFD8F, 0xFD92, 0xFDC7, 0xFDF0, 0xFDFC, 0xFE70, 0xFE74, 0xFE76, 0xFEFC,
    ];

    internal static bool IsRandALCat(int c)
    {
        if (c < 0x05BE || c > 0xFEFC)
            return false;
        for (var i = 0; i < RandAL.Length; i += 2)
        {
            if (c < RandAL[i])
                return false;
            if (c <= RandAL[i + 1])
                return true;
        }
        return false;
    }

    /// <summary>
    /// Approximation of RFC 3454 D.2 (bidi property L): letters and spacing marks outside the right-to-left blocks.
    /// </summary>
    internal static bool IsLCat(int c)
    {
        if (c < 0x80)
            return (uint)((c | 0x20) - 'a') <= 'z' - 'a';
        if ((c >= 0x0590 && c <= 0x08FF) || (c >= 0xFB1D && c <= 0xFDFF) || (c >= 0xFE70 && c <= 0xFEFF)
            || (c >= 0x10800 && c <= 0x10FFF) || (c >= 0x1E800 && c <= 0x1EFFF))
            return false;
        return CharUnicodeInfo.GetUnicodeCategory(c) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.SpacingCombiningMark
                or UnicodeCategory.LetterNumber => true,
            _ => false,
        };
    }
}
