using System.Text;

namespace Tendril.Protocol.Sasl;

/// <summary>SASL PLAIN message parsing (RFC 4616): <c>[authzid] NUL authcid NUL passwd</c>.</summary>
public static class PlainMechanism
{
    /// <summary>Maximum length in characters of authcid and passwd (RFC 4616 requires accepting at least 255 octets).</summary>
    public const int MaxFieldLength = 255;

    /// <summary>Maximum length in characters of authzid (a JID has three parts of at most 1023 octets).</summary>
    public const int MaxAuthzidLength = 3071;

    /// <summary>Parses a PLAIN initial response; returns <see cref="SaslFailure.MalformedRequest"/> on bad input.</summary>
    /// <remarks>
    /// The username is SASLprep-normalized; the password is returned as sent (SASLprep is applied by
    /// <see cref="ScramCredential.Verify"/>). An empty authzid is reported as null. On failure the outputs are empty.
    /// </remarks>
    public static SaslFailure Parse(ReadOnlySpan<byte> message, out string? authzid, out string username, out string password)
    {
        authzid = null;
        username = string.Empty;
        password = string.Empty;

        var first = message.IndexOf((byte)0);
        if (first < 0)
            return SaslFailure.MalformedRequest;
        var rest = message[(first + 1)..];
        var second = rest.IndexOf((byte)0);
        if (second < 0)
            return SaslFailure.MalformedRequest;
        var authzBytes = message[..first];
        var authcBytes = rest[..second];
        var passBytes = rest[(second + 1)..];
        if (authcBytes.IsEmpty || passBytes.IsEmpty || passBytes.Contains((byte)0))
            return SaslFailure.MalformedRequest;

        string authz, authc, pass;
        try
        {
            authz = Scram.StrictUtf8.GetString(authzBytes);
            authc = Scram.StrictUtf8.GetString(authcBytes);
            pass = Scram.StrictUtf8.GetString(passBytes);
        }
        catch (DecoderFallbackException)
        {
            return SaslFailure.MalformedRequest;
        }
        if (authc.Length > MaxFieldLength || pass.Length > MaxFieldLength || authz.Length > MaxAuthzidLength)
            return SaslFailure.MalformedRequest;
        if (!SaslPrep.TryPrepare(authc, out var prepared) || prepared.Length == 0)
            return SaslFailure.MalformedRequest;

        authzid = authz.Length == 0 ? null : authz;
        username = prepared;
        password = pass;
        return SaslFailure.None;
    }

    /// <summary>Builds a PLAIN initial response (client side): <c>[authzid] NUL username NUL password</c>.</summary>
    public static byte[] Create(string username, string password, string? authzid = null)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        if (username.Length == 0 || username.Contains('\0'))
            throw new ArgumentException("The username must be non-empty and contain no NUL.", nameof(username));
        if (password.Length == 0 || password.Contains('\0'))
            throw new ArgumentException("The password must be non-empty and contain no NUL.", nameof(password));
        if (authzid is not null && authzid.Contains('\0'))
            throw new ArgumentException("The authzid must not contain NUL.", nameof(authzid));
        return Encoding.UTF8.GetBytes(string.Concat(authzid ?? string.Empty, "\0", username, "\0", password));
    }
}
