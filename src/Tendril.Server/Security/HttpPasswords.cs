using Microsoft.AspNetCore.Http;
using Tendril.Protocol;
using Tendril.Server.Transport.WebSockets;
using Tendril.Storage;

namespace Tendril.Server.Security;

public enum HttpPasswordOutcome
{
    Ok,

    /// <summary>Unknown account or wrong password (one answer for both).</summary>
    Wrong,

    /// <summary>The source is banned for failed logins: 429 with Retry-After.</summary>
    Banned,

    /// <summary>A password sent in the clear: refused before it is looked at.</summary>
    Insecure,

    /// <summary>Storage did not answer.</summary>
    Unavailable,
}

public readonly record struct HttpPasswordResult(HttpPasswordOutcome Outcome, Account? Account = null, TimeSpan RetryAfter = default);

/// <summary>
/// A password sent over HTTP (the admin page and API, the pubsub HTTP API), checked as c2s SASL checks one (issue 19):
/// only over HTTPS, or from loopback with <c>Tendril:Http:TrustLoopback</c> (a TLS-terminating proxy on the host) — the
/// rule BOSH and WebSocket follow; failures counted by the server's <see cref="LoginThrottle"/> (delays, bans); the
/// same work for an unknown account as for a wrong password.
/// </summary>
public static class HttpPasswords
{
    /// <summary>Whether this request may carry a password: HTTPS, or a trusted loopback proxy.</summary>
    public static bool MayCarryPassword(XmppServer server, HttpContext context) => WebTransportEndpoints.IsSecure(server, context);

    /// <summary>Where to send the password instead, for the refusal's text.</summary>
    public static string InsecureMessage(XmppServer server, HttpContext context) =>
        WebTransportEndpoints.HttpsBaseUrl(server, context) is { } https
            ? $"Passwords are accepted only over HTTPS: use {https}{context.Request.Path}."
            : "Passwords are accepted only over HTTPS (Tendril:Http:HttpsEnabled), or from a TLS-terminating proxy on this host (Tendril:Http:TrustLoopback).";

    public static async Task<HttpPasswordResult> CheckAsync(XmppServer server, HttpContext context, Jid? account, string password)
    {
        if (!MayCarryPassword(server, context)) return new HttpPasswordResult(HttpPasswordOutcome.Insecure);
        var source = context.Connection.RemoteIpAddress;
        var key = account?.ToString();
        var verdict = server.LoginThrottle.Check(source, key);
        if (verdict.Banned)
        {
            server.Metrics.AuthFailed("http-basic", "banned");
            return new HttpPasswordResult(HttpPasswordOutcome.Banned, RetryAfter: verdict.BannedFor);
        }
        if (verdict.Delay > TimeSpan.Zero) await Task.Delay(verdict.Delay, server.Time, context.RequestAborted).ConfigureAwait(false);
        Account? found = null;
        if (account is not null && password.Length > 0)
        {
            try
            {
                found = await server.Storage.Accounts.FindAsync(account.Domain, account.Local!, context.RequestAborted).ConfigureAwait(false);
            }
            catch (StorageException)
            {
                return new HttpPasswordResult(HttpPasswordOutcome.Unavailable);
            }
        }
        if (!PasswordCheck.Verify(found, password, server.Options.Sasl.ScramIterations))
        {
            server.LoginThrottle.Failed(source, key);
            server.Metrics.AuthFailed("http-basic", "not-authorized");
            return new HttpPasswordResult(HttpPasswordOutcome.Wrong);
        }
        server.LoginThrottle.Succeeded(source);
        server.Metrics.AuthSucceeded("http-basic");
        return new HttpPasswordResult(HttpPasswordOutcome.Ok, found);
    }

    /// <summary>The refusal for a banned source: 429 with Retry-After (RFC 6585 §4).</summary>
    public static IResult TooManyAttempts(HttpContext context, TimeSpan retryAfter)
    {
        context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Results.Json(new { error = "Too many failed logins from this address; try again later." }, statusCode: StatusCodes.Status429TooManyRequests);
    }
}
