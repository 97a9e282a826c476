using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tendril.Protocol;

/// <summary>
/// An XMPP address (RFC 7622): <c>[localpart@]domainpart[/resourcepart]</c>, validated and normalized
/// (localpart: UsernameCaseMapped; domainpart: IDNA to Unicode, lower case, NFC; resourcepart: OpaqueString, NFC).
/// Immutable; equality is by normalized parts.
/// </summary>
/// <remarks>
/// The PRECIS profiles (RFC 8264/8265) are approximated with .NET's Unicode data:
/// <list type="bullet">
/// <item>localpart: fullwidth/halfwidth characters are width-mapped, then lower-cased (<see cref="string.ToLowerInvariant"/>)
/// and NFC-normalized; allowed are printable ASCII other than space and <c>" &amp; ' / : &lt; &gt; @</c>, and non-ASCII
/// letters, digits and marks (categories Ll Lu Lo Lm Nd Mn Mc) without a compatibility decomposition
/// (so U+2163 ROMAN NUMERAL FOUR is rejected). The bidi rule is not checked.</item>
/// <item>domainpart: one trailing dot is removed; <c>[IPv6]</c> literals and dotted IPv4 addresses are kept as they are;
/// otherwise IDNA (UTS #46 non-transitional, STD3 rules) via <see cref="IdnMapping"/>, stored in Unicode form.</item>
/// <item>resourcepart: non-ASCII spaces are mapped to U+0020, then NFC; control, format, private-use, surrogate,
/// unassigned and non-character code points and U+2028/U+2029 are rejected. Case is preserved.</item>
/// </list>
/// Each part is at most 1023 UTF-8 bytes and must not be empty. Already-normalized ASCII input takes a fast path that
/// allocates nothing but the parts and the <see cref="Jid"/>; <see cref="ToString"/> then returns the parsed string itself.
/// </remarks>
public sealed class Jid : IEquatable<Jid>
{
    /// <summary>Maximum length of each part in UTF-8 bytes (RFC 7622 §3.2–3.4).</summary>
    public const int MaxPartBytes = 1023;

    private static readonly SearchValues<char> LocalForbidden = SearchValues.Create("\"&'/:<>@");

    private string? _string;
    private Jid? _bare;

    private Jid(string? local, string domain, string? resource)
    {
        Local = local;
        Domain = domain;
        Resource = resource;
    }

    private Jid(string? local, string domain, string? resource, string? text) : this(local, domain, resource) => _string = text;

    public string? Local { get; }
    public string Domain { get; }
    public string? Resource { get; }

    public bool IsBare => Resource is null;
    public bool IsFull => Resource is not null;
    /// <summary>A domain-only JID (a server or component).</summary>
    public bool IsDomain => Local is null && Resource is null;

    /// <summary>This JID without its resource (the same instance when it has none); cached.</summary>
    public Jid Bare => Resource is null ? this : _bare ??= CreateBare();

    /// <exception cref="FormatException"><paramref name="text"/> is not a valid JID.</exception>
    public static Jid Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParseCore(text, out var jid, out var error) ? jid : throw new FormatException($"Invalid JID: {error}.");
    }

    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out Jid? jid)
    {
        if (text is not null && TryParseCore(text, out var parsed, out _))
        {
            jid = parsed;
            return true;
        }
        jid = null;
        return false;
    }

    /// <summary>As <see cref="TryParse(string?, out Jid?)"/>, with what is wrong (e.g. "bad domainpart") when it fails.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, [NotNullWhen(true)] out Jid? jid, [NotNullWhen(false)] out string? error)
    {
        if (text is null)
        {
            jid = null;
            error = "no JID";
            return false;
        }
        return TryParseCore(text, out jid, out error);
    }

    /// <summary>Builds a JID from parts, validating and normalizing each; throws <see cref="FormatException"/>.</summary>
    public static Jid Create(string? local, string domain, string? resource = null)
    {
        ArgumentNullException.ThrowIfNull(domain);
        string? l = null, r = null;
        if (local is not null && (l = PrepareLocal(local)) is null)
            throw new FormatException("Invalid JID: bad localpart.");
        var d = PrepareDomain(domain) ?? throw new FormatException("Invalid JID: bad domainpart.");
        if (resource is not null && (r = PrepareResource(resource)) is null)
            throw new FormatException("Invalid JID: bad resourcepart.");
        return new Jid(l, d, r);
    }

    /// <summary>This JID with another resource (validated and normalized), or the bare JID for null.</summary>
    /// <exception cref="FormatException"><paramref name="resource"/> is not a valid resourcepart.</exception>
    public Jid WithResource(string? resource)
    {
        if (resource is null)
            return Bare;
        var r = PrepareResource(resource) ?? throw new FormatException("Invalid JID: bad resourcepart.");
        if (string.Equals(r, Resource, StringComparison.Ordinal))
            return this;
        var bare = Bare;
        var text = bare._string is { } s ? string.Concat(s, "/", r) : null;
        return new Jid(Local, Domain, r, text) { _bare = bare };
    }

    /// <summary>True when <paramref name="resource"/> is a valid resourcepart (used for client-requested resources).</summary>
    public static bool IsValidResource(string resource) => resource is not null && PrepareResource(resource) is not null;

    public bool Equals(Jid? other) =>
        other is not null && (ReferenceEquals(this, other)
            || (string.Equals(Domain, other.Domain, StringComparison.Ordinal)
                && string.Equals(Local, other.Local, StringComparison.Ordinal)
                && string.Equals(Resource, other.Resource, StringComparison.Ordinal)));

    public override bool Equals(object? obj) => obj is Jid j && Equals(j);
    public override int GetHashCode() => HashCode.Combine(Local, Domain, Resource);

    public override string ToString() => _string ??= (Local, Resource) switch
    {
        (null, null) => Domain,
        (null, _) => string.Concat(Domain, "/", Resource),
        (_, null) => string.Concat(Local, "@", Domain),
        _ => string.Concat(Local, "@", Domain, "/", Resource),
    };

    public static bool operator ==(Jid? a, Jid? b) => a is null ? b is null : a.Equals(b);
    public static bool operator !=(Jid? a, Jid? b) => !(a == b);

    private Jid CreateBare()
    {
        var text = _string is { } s ? s[..(s.Length - Resource!.Length - 1)] : null;
        return new Jid(Local, Domain, null, text);
    }

    private static bool TryParseCore(string text, [NotNullWhen(true)] out Jid? jid, [NotNullWhen(false)] out string? error)
    {
        jid = null;
        if (text.Length == 0)
        {
            error = "empty";
            return false;
        }
        if (text.Length > 3 * MaxPartBytes + 2)
        {
            error = "too long";
            return false;
        }

        // RFC 7622 §3.1: the resourcepart follows the first '/', the localpart precedes the first '@' before it.
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var end = slash < 0 ? text.Length : slash;
        var at = text.AsSpan(0, end).IndexOf('@');

        string? local = null;
        string? localRaw = null;
        if (at >= 0)
        {
            localRaw = text[..at];
            local = PrepareLocal(localRaw);
            if (local is null)
            {
                error = "bad localpart";
                return false;
            }
        }
        var domainRaw = text.Substring(at + 1, end - at - 1);
        var domain = PrepareDomain(domainRaw);
        if (domain is null)
        {
            error = "bad domainpart";
            return false;
        }
        string? resource = null;
        string? resourceRaw = null;
        if (slash >= 0)
        {
            resourceRaw = text[(slash + 1)..];
            resource = PrepareResource(resourceRaw);
            if (resource is null)
            {
                error = "bad resourcepart";
                return false;
            }
        }

        // Unchanged parts: the input is the canonical string form. (Prepare* return the input instance when unchanged.)
        var canonical = ReferenceEquals(local, localRaw) && ReferenceEquals(domain, domainRaw) && ReferenceEquals(resource, resourceRaw);
        jid = new Jid(local, domain, resource, canonical ? text : null);
        error = null;
        return true;
    }

    // ---- localpart: UsernameCaseMapped (RFC 8265 §3.3) + RFC 7622 §3.3.1 exclusions ----

    internal static string? PrepareLocal(string s)
    {
        if (s.Length == 0 || s.Length > MaxPartBytes)
            return null;
        var upper = false;
        foreach (var c in s)
        {
            if (c >= 0x80)
                return PrepareLocalSlow(s);
            if (!IsLocalAscii(c))
                return null;
            upper |= char.IsAsciiLetterUpper(c);
        }
        return upper ? s.ToLowerInvariant() : s;
    }

    private static bool IsLocalAscii(char c) => c > 0x20 && c < 0x7F && !LocalForbidden.Contains(c);

    private static string? PrepareLocalSlow(string s)
    {
        // 1. width mapping (fullwidth/halfwidth forms → their decompositions)
        var mapped = s;
        if (s.AsSpan().IndexOfAnyInRange('\uFF00', '\uFFEF') >= 0)
        {
            var sb = new StringBuilder(s.Length);
            foreach (var c in s)
            {
                if (c is >= '\uFF00' and <= '\uFFEF')
                    sb.Append(c.ToString().Normalize(NormalizationForm.FormKC));
                else
                    sb.Append(c);
            }
            mapped = sb.ToString();
        }
        // 3. case mapping, 4. NFC
        mapped = mapped.ToLowerInvariant();
        if (!TryNormalizeNfc(mapped, out mapped))
            return null;

        var span = mapped.AsSpan();
        while (!span.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(span, out var rune, out var consumed) != OperationStatus.Done)
                return null;
            span = span[consumed..];
            if (rune.IsAscii)
            {
                if (!IsLocalAscii((char)rune.Value))
                    return null;
                continue;
            }
            switch (Rune.GetUnicodeCategory(rune))
            {
                case UnicodeCategory.LowercaseLetter or UnicodeCategory.UppercaseLetter or UnicodeCategory.OtherLetter
                    or UnicodeCategory.ModifierLetter or UnicodeCategory.DecimalDigitNumber
                    or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark:
                    break;
                default:
                    return null;
            }
            if (HasCompat(rune))
                return null;
        }
        if (mapped.Length == 0 || Encoding.UTF8.GetByteCount(mapped) > MaxPartBytes)
            return null;
        return string.Equals(mapped, s, StringComparison.Ordinal) ? s : mapped;
    }

    private static bool HasCompat(Rune rune)
    {
        var text = rune.ToString();
        return !text.IsNormalized(NormalizationForm.FormKC);
    }

    // ---- domainpart (RFC 7622 §3.2) ----

    internal static string? PrepareDomain(string s)
    {
        if (s.Length > 0 && s[^1] == '.')
            s = s[..^1];
        if (s.Length == 0 || s.Length > MaxPartBytes)
            return null;

        if (s[0] == '[')
        {
            return s[^1] == ']' && IPAddress.TryParse(s.AsSpan(1, s.Length - 2), out var ip)
                && ip.AddressFamily == AddressFamily.InterNetworkV6 && s.AsSpan(1, s.Length - 2).IndexOfAny('%', '[', ']') < 0
                ? s : null;
        }

        var ascii = true;
        var upper = false;
        foreach (var c in s)
        {
            if (c >= 0x80)
            {
                ascii = false;
                break;
            }
            upper |= char.IsAsciiLetterUpper(c);
        }
        if (ascii)
        {
            if (upper)
                s = s.ToLowerInvariant();
            if (IsPlainLdhName(s))
                return s; // the input instance when nothing changed
        }
        return PrepareDomainSlow(s);
    }

    /// <summary>Lower-case LDH labels (no A-labels or other "??--" labels): valid as they are.</summary>
    private static bool IsPlainLdhName(string s)
    {
        var labelStart = 0;
        for (var i = 0; i <= s.Length; i++)
        {
            if (i < s.Length && s[i] != '.')
            {
                var c = s[i];
                if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c != '-')
                    return false;
                continue;
            }
            var length = i - labelStart;
            if (length == 0 || length > 63 || s[labelStart] == '-' || s[i - 1] == '-')
                return false;
            if (length >= 4 && s[labelStart + 2] == '-' && s[labelStart + 3] == '-')
                return false; // xn-- etc.: let IdnMapping validate and decode
            labelStart = i + 1;
        }
        return true;
    }

    private static string? PrepareDomainSlow(string s)
    {
        string unicode;
        try
        {
            var idn = new IdnMapping { UseStd3AsciiRules = true };
            var ace = idn.GetAscii(s.ToLowerInvariant());
            unicode = idn.GetUnicode(ace).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return null;
        }
        if (!TryNormalizeNfc(unicode, out unicode) || unicode.Length == 0 || Encoding.UTF8.GetByteCount(unicode) > MaxPartBytes)
            return null;
        if (unicode[^1] == '.')
            return null;
        return string.Equals(unicode, s, StringComparison.Ordinal) ? s : unicode;
    }

    // ---- resourcepart: OpaqueString (RFC 8265 §4.2) ----

    internal static string? PrepareResource(string s)
    {
        if (s.Length == 0 || s.Length > MaxPartBytes)
            return null;
        foreach (var c in s)
        {
            if (c >= 0x80)
                return PrepareResourceSlow(s);
            if (c < 0x20 || c == 0x7F)
                return null;
        }
        return s;
    }

    private static string? PrepareResourceSlow(string s)
    {
        var mapped = s;
        foreach (var c in s)
        {
            if (c > 0x7F && char.GetUnicodeCategory(c) == UnicodeCategory.SpaceSeparator)
            {
                var chars = s.ToCharArray();
                for (var i = 0; i < chars.Length; i++)
                {
                    if (chars[i] > 0x7F && char.GetUnicodeCategory(chars[i]) == UnicodeCategory.SpaceSeparator)
                        chars[i] = ' ';
                }
                mapped = new string(chars);
                break;
            }
        }
        if (!TryNormalizeNfc(mapped, out mapped))
            return null;

        var span = mapped.AsSpan();
        while (!span.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(span, out var rune, out var consumed) != OperationStatus.Done)
                return null;
            span = span[consumed..];
            var v = rune.Value;
            if ((v >= 0xFDD0 && v <= 0xFDEF) || (v & 0xFFFE) == 0xFFFE)
                return null;
            switch (Rune.GetUnicodeCategory(rune))
            {
                case UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                    or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator:
                    return null;
            }
        }
        if (mapped.Length == 0 || Encoding.UTF8.GetByteCount(mapped) > MaxPartBytes)
            return null;
        return string.Equals(mapped, s, StringComparison.Ordinal) ? s : mapped;
    }

    private static bool TryNormalizeNfc(string s, out string result)
    {
        try
        {
            result = s.IsNormalized(NormalizationForm.FormC) ? s : s.Normalize(NormalizationForm.FormC);
            return true;
        }
        catch (ArgumentException)
        {
            result = s;
            return false;
        }
    }
}
