using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Tendril.Protocol;
using Tendril.Server.Security;

namespace Tendril.Server.Admin;

internal enum AdminAuthStatus
{
    /// <summary>No credentials, wrong ones, or those of an account that is not an administrator (one answer for all): 401.</summary>
    Unauthenticated,

    /// <summary>A cookie session of an account no longer in Tendril:Admin:Users: 403.</summary>
    Forbidden,

    /// <summary>A password over plain HTTP (not HTTPS, not a trusted loopback proxy): refused unread, 403.</summary>
    Insecure,

    /// <summary>The source is banned for failed logins: 429.</summary>
    Banned,

    Ok,
}

internal sealed record AdminIdentity(string Jid, string? Cookie);

internal readonly record struct AdminAuthResult(AdminAuthStatus Status, AdminIdentity? Identity = null, TimeSpan RetryAfter = default);

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

    // Cookies signed out before they expire (payload → expiry, Unix seconds): a stolen cookie dies with the logout.
    private readonly ConcurrentDictionary<string, long> _revoked = new(StringComparer.Ordinal);

    public async Task<AdminAuthResult> AuthenticateAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            if (!HttpPasswords.MayCarryPassword(server, context)) return new AdminAuthResult(AdminAuthStatus.Insecure);
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            }
            catch (FormatException)
            {
                return new AdminAuthResult(AdminAuthStatus.Unauthenticated);
            }
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0) return new AdminAuthResult(AdminAuthStatus.Unauthenticated);
            return await CheckPasswordAsync(context, decoded[..colon], decoded[(colon + 1)..], cookie: null).ConfigureAwait(false);
        }
        var cookie = context.Request.Cookies[CookieName];
        if (cookie is not null && VerifyCookie(cookie) is { } cookieJid)
        {
            return IsAdmin(cookieJid) ? new AdminAuthResult(AdminAuthStatus.Ok, new AdminIdentity(cookieJid, cookie)) : new AdminAuthResult(AdminAuthStatus.Forbidden);
        }
        return new AdminAuthResult(AdminAuthStatus.Unauthenticated);
    }

    /// <summary>
    /// Checks a user (bare JID or username) and password over a request that may carry one, throttled per source and
    /// account (issue 19). A right password of an account that is not an administrator gets the same answer as a wrong
    /// one: the admin surface confirms no password.
    /// </summary>
    public async Task<AdminAuthResult> CheckPasswordAsync(HttpContext context, string user, string password, string? cookie)
    {
        var jid = ParseAccount(server, user);
        var result = await HttpPasswords.CheckAsync(server, context, jid, password).ConfigureAwait(false);
        switch (result.Outcome)
        {
            case HttpPasswordOutcome.Insecure: return new AdminAuthResult(AdminAuthStatus.Insecure);
            case HttpPasswordOutcome.Banned: return new AdminAuthResult(AdminAuthStatus.Banned, RetryAfter: result.RetryAfter);
            case HttpPasswordOutcome.Ok when jid is not null && IsAdmin(jid.ToString()):
                return new AdminAuthResult(AdminAuthStatus.Ok, new AdminIdentity(jid.ToString(), cookie));
            default: return new AdminAuthResult(AdminAuthStatus.Unauthenticated);
        }
    }

    /// <summary>Signs a cookie out: it is refused from now on, though its signature and time are still good.</summary>
    public void Revoke(string cookie)
    {
        var now = server.Time.GetUtcNow().ToUnixTimeSeconds();
        foreach (var (key, expires) in _revoked)
        {
            if (expires < now) _revoked.TryRemove(key, out _);
        }
        if (Parse(cookie) is { } parsed) _revoked[cookie] = parsed.Expires;
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
        if (_revoked.ContainsKey(cookie)) return null;
        if (Parse(cookie) is not { } parsed) return null;
        if (server.Time.GetUtcNow().ToUnixTimeSeconds() > parsed.Expires) return null;
        return parsed.Jid;
    }

    /// <summary>A cookie with a good signature: its JID and expiry; null otherwise.</summary>
    private (string Jid, long Expires)? Parse(string cookie)
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
        return (parts[0], expires);
    }

    /// <summary>The CSRF token for a cookie session: HMAC of the cookie, so it cannot be forged without it.</summary>
    public string CsrfToken(string cookie) => Base64Url(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes("csrf\n" + cookie)));

    public bool CheckCsrf(AdminIdentity identity, string? token)
    {
        // Basic auth: the API's request checks (JSON or the header, same origin) apply instead, see AdminEndpoints.Guard.
        if (identity.Cookie is null) return true;
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
