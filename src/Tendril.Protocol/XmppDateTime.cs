using System.Globalization;

namespace Tendril.Protocol;

/// <summary>
/// XEP-0082 date and time profiles: the one formatter and parser for every timestamp the server writes or reads
/// (XEP-0203 delay stamps, XEP-0202 entity time, XEP-0313 start/end, pubsub#creation_date, XEP-0215 expires).
/// <para>Written form (the DateTime profile, §3.2): <c>CCYY-MM-DDThh:mm:ss[.sss]Z</c>, always in UTC with 'Z'.
/// Milliseconds appear only when they are not zero — a whole second prints as <c>2002-09-10T23:08:25Z</c>, the form
/// of the XEP's examples; the fraction is optional in the profile and every reader must accept both. Precision below a
/// millisecond is dropped (truncated), never rounded up into the next second.</para>
/// <para>Read form: the DateTime profile with a required time zone ('Z' or ±hh:mm) and optional fractional seconds
/// of any length (§3.2: "the fractional seconds … MAY be included"). A value without a time zone is refused: it names
/// no instant.</para>
/// </summary>
public static class XmppDateTime
{
    /// <summary>The DateTime profile in UTC: <c>yyyy-MM-ddTHH:mm:ss[.fff]Z</c>.</summary>
    public static string Format(DateTimeOffset instant)
    {
        var utc = instant.UtcDateTime;
        return utc.Millisecond == 0
            ? utc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : utc.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
    }

    /// <summary>Parses the DateTime profile (XEP-0082 §3.2); false when the text is not one.</summary>
    public static bool TryParse(string? text, out DateTimeOffset instant)
    {
        instant = default;
        if (text is null) return false;
        var s = text.AsSpan().Trim();
        // CCYY-MM-DDThh:mm:ss is 19 characters, then [.s+] and a zone.
        if (s.Length < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return false;
        var rest = s[19..];
        if (rest.Length > 0 && rest[0] == '.')
        {
            var digits = 1;
            while (digits < rest.Length && char.IsAsciiDigit(rest[digits])) digits++;
            if (digits == 1) return false;
            rest = rest[digits..];
        }
        var zoned = rest is "Z" || (rest.Length == 6 && rest[0] is '+' or '-' && char.IsAsciiDigit(rest[1]) && char.IsAsciiDigit(rest[2])
            && rest[3] == ':' && char.IsAsciiDigit(rest[4]) && char.IsAsciiDigit(rest[5]));
        if (!zoned) return false;
        return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out instant);
    }
}
