using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Tendril.Protocol;
using Tendril.Storage;

namespace Tendril.Server.Admin;

internal enum AdminAuthStatus
{
    /// <summary>No credentials, or wrong ones: 401.</summary>
    Unauthenticated,

    /// <summary>A valid account that is not in Tendril:Admin:Users: 403.</summary>
    Forbidden,

    Ok,
}

internal sealed record AdminIdentity(string Jid, string? Cookie);

/// <summary>
/// Admin credentials: a local account listed in <c>Tendril:Admin:Users</c>, proven with its XMPP password (checked
/// against the stored SCRAM-SHA-256 credential) over HTTP Basic, or once at the login form which then sets an
/// HMAC-signed cookie (HttpOnly, SameSite=Strict, path /admin). POST forms carry a CSRF token derived from the cookie.
/// The signing key is random per process: a restart logs everyone out. The admin list is checked at every request,
/// so removing a user from it (and reloading) takes effect at once.
/// </summary>
internal sealed class AdminAuthenticator(XmppServer server)
{
    public const string CookieName = "tendril-admin";
    public const string CsrfHeader = "X-CSRF-Token";

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public async Task<(AdminAuthStatus Status, AdminIdentity? Identity)> AuthenticateAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            }
            catch (FormatException)
            {
                return (AdminAuthStatus.Unauthenticated, null);
            }
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0) return (AdminAuthStatus.Unauthenticated, null);
            var (status, jid) = await CheckPasswordAsync(decoded[..colon], decoded[(colon + 1)..], context.RequestAborted).ConfigureAwait(false);
            return (status, jid is null ? null : new AdminIdentity(jid, null));
        }
        var cookie = context.Request.Cookies[CookieName];
        if (cookie is not null && VerifyCookie(cookie) is { } cookieJid)
        {
            return IsAdmin(cookieJid) ? (AdminAuthStatus.Ok, new AdminIdentity(cookieJid, cookie)) : (AdminAuthStatus.Forbidden, null);
        }
        return (AdminAuthStatus.Unauthenticated, null);
    }

    /// <summary>Checks a user (bare JID or username) and password; the JID is returned when the password is right.</summary>
    public async Task<(AdminAuthStatus Status, string? Jid)> CheckPasswordAsync(string user, string password, CancellationToken cancellationToken)
    {
        var jid = ParseAccount(server, user);
        if (jid is null || password.Length == 0) return (AdminAuthStatus.Unauthenticated, null);
        Account? account;
        try
        {
            account = await server.Storage.Accounts.FindAsync(jid.Domain, jid.Local!, cancellationToken).ConfigureAwait(false);
        }
        catch (StorageException)
        {
            return (AdminAuthStatus.Unauthenticated, null);
        }
        if (account is null || !account.Sha256.Verify(password)) return (AdminAuthStatus.Unauthenticated, null);
        var bare = jid.ToString();
        return IsAdmin(bare) ? (AdminAuthStatus.Ok, bare) : (AdminAuthStatus.Forbidden, bare);
    }

    public bool IsAdmin(string bareJid)
    {
        foreach (var admin in server.Options.Admin.Users)
        {
            if (Jid.TryParse(admin, out var jid) && jid is not null && jid.ToString() == bareJid) return true;
        }
        return false;
    }

    /// <summary>A bare account JID on this domain from "user" or "user@domain"; null when invalid.</summary>
    public static Jid? ParseAccount(XmppServer server, string text)
    {
        text = text.Trim();
        if (!text.Contains('@', StringComparison.Ordinal)) text += "@" + server.Domain;
        if (!Jid.TryParse(text, out var jid) || jid is null || jid.Local is null || jid.Resource is not null || jid.Domain != server.Domain) return null;
        return jid;
    }

    public string IssueCookie(string jid)
    {
        var expires = server.Time.GetUtcNow().AddMinutes(server.Options.Admin.SessionMinutes).ToUnixTimeSeconds();
        var payload = Encoding.UTF8.GetBytes($"{jid}\n{expires}\n{Convert.ToHexString(RandomNumberGenerator.GetBytes(8))}");
        return Base64Url(payload) + "." + Base64Url(HMACSHA256.HashData(_key, payload));
    }

    private string? VerifyCookie(string cookie)
    {
        var dot = cookie.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0) return null;
        byte[] payload, mac;
        try
        {
            payload = FromBase64Url(cookie[..dot]);
            mac = FromBase64Url(cookie[(dot + 1)..]);
        }
        catch (FormatException)
        {
            return null;
        }
        if (!CryptographicOperations.FixedTimeEquals(mac, HMACSHA256.HashData(_key, payload))) return null;
        var parts = Encoding.UTF8.GetString(payload).Split('\n');
        if (parts.Length != 3 || !long.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var expires)) return null;
        if (server.Time.GetUtcNow().ToUnixTimeSeconds() > expires) return null;
        return parts[0];
    }

    /// <summary>The CSRF token for a cookie session: HMAC of the cookie, so it cannot be forged without it.</summary>
    public string CsrfToken(string cookie) => Base64Url(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes("csrf\n" + cookie)));

    public bool CheckCsrf(AdminIdentity identity, string? token)
    {
        if (identity.Cookie is null) return true; // Basic auth: no ambient credential for a cross-site request to ride on
        if (string.IsNullOrEmpty(token)) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), Encoding.UTF8.GetBytes(CsrfToken(identity.Cookie)));
    }

    private static string Base64Url(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromBase64Url(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        s += (s.Length % 4) switch { 2 => "==", 3 => "=", 0 => "", _ => throw new FormatException() };
        return Convert.FromBase64String(s);
    }
}
