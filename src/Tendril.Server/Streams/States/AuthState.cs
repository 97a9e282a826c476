using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Protocol.Sasl;
using Tendril.Server.Logging;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Streams.States;

/// <summary>
/// SASL negotiation (RFC 6120 §6): SCRAM-SHA-256, SCRAM-SHA-1 (RFC 5802, RFC 7677) and PLAIN (over TLS only).
/// One instance per stream, holding the exchange in progress. Success restarts the stream.
/// </summary>
internal sealed class AuthState : C2sState
{
    private ScramServer? _scram;
    private string _username = "";

    public override string Name => "Auth";

    public override async ValueTask OnElementAsync(C2sStream stream, XmlElement element)
    {
        if (element.Namespace == Ns.Sasl)
        {
            switch (element.Name)
            {
                case "auth":
                    await OnAuthAsync(stream, element).ConfigureAwait(false);
                    return;
                case "response":
                    await OnResponseAsync(stream, element).ConfigureAwait(false);
                    return;
                case "abort":
                    // §6.4.4: the client gives up the exchange in progress.
                    _scram = null;
                    _pendingScram = null;
                    _plainPending = false;
                    await FailAsync(stream, SaslFailure.Aborted, "client", "-").ConfigureAwait(false);
                    return;
            }
        }
        if (element.Is("starttls", Ns.Tls) && stream.CanStartTls)
        {
            await stream.BeginStartTlsAsync().ConfigureAwait(false);
            return;
        }
        // The only stanzas allowed before authentication are those a feature accepts (account creation), and only where
        // TLS protects what they carry.
        if (stream.IsSecure && stream.Server.Features.TryGetPreAuthIqHandler(element, out var preAuth))
        {
            await preAuth(stream, element).ConfigureAwait(false);
            return;
        }
        await NotAuthorizedAsync(stream, element).ConfigureAwait(false);
    }

    private async ValueTask OnAuthAsync(C2sStream stream, XmlElement auth)
    {
        if (_scram is not null)
        {
            // A new <auth/> while one is in progress aborts the old one (§6.4.4 allows only one at a time).
            _scram = null;
        }
        _pendingScram = null;
        _plainPending = false;
        var mechanism = auth.GetAttribute("mechanism") ?? "";
        if (!TryDecode(auth.Text, out var initial))
        {
            await FailAsync(stream, SaslFailure.IncorrectEncoding, mechanism, "-").ConfigureAwait(false);
            return;
        }
        var hash = StartState.ParseScram(mechanism);
        if (hash is { } h)
        {
            if (initial.Length == 0)
            {
                // §6.4.2: no initial response: an empty challenge asks for the client-first message.
                _pendingScram = h;
                _plainPending = false;
                await stream.SendAsync(new XmlElement("challenge", Ns.Sasl)).ConfigureAwait(false);
                return;
            }
            await StartScramAsync(stream, h, initial).ConfigureAwait(false);
            return;
        }
        if (mechanism == "PLAIN")
        {
            if (!stream.IsSecure)
            {
                await FailAsync(stream, SaslFailure.EncryptionRequired, mechanism, "-").ConfigureAwait(false);
                return;
            }
            if (!stream.Server.Options.Sasl.AllowPlain)
            {
                // Known mechanism, refused by policy (RFC 6120 §6.5.9).
                await FailAsync(stream, SaslFailure.MechanismTooWeak, mechanism, "-").ConfigureAwait(false);
                return;
            }
            if (initial.Length == 0)
            {
                // §6.4.2: an empty challenge asks the client for its (non-empty) response.
                _plainPending = true;
                await stream.SendAsync(new XmlElement("challenge", Ns.Sasl)).ConfigureAwait(false);
                return;
            }
            await PlainAsync(stream, initial).ConfigureAwait(false);
            return;
        }
        await FailAsync(stream, SaslFailure.InvalidMechanism, mechanism, "-").ConfigureAwait(false);
    }

    private bool _plainPending;
    private ScramHash? _pendingScram;

    private async ValueTask StartScramAsync(C2sStream stream, ScramHash hash, byte[] clientFirst)
    {
        var scram = new ScramServer(hash) { UnknownUserIterations = stream.Server.Options.Sasl.ScramIterations };
        var mechanism = scram.Mechanism;
        var failure = scram.ReceiveClientFirst(clientFirst, out var username, out var authzid);
        if (failure != SaslFailure.None)
        {
            await FailAsync(stream, failure, mechanism, "-").ConfigureAwait(false);
            return;
        }
        if (!IsValidAuthzid(stream, username, authzid))
        {
            await FailAsync(stream, SaslFailure.InvalidAuthzid, mechanism, username).ConfigureAwait(false);
            return;
        }
        if (!await ThrottleAsync(stream, username).ConfigureAwait(false)) return;
        var lookup = await FindAccountAsync(stream, username).ConfigureAwait(false);
        if (lookup.Failed)
        {
            await FailAsync(stream, SaslFailure.TemporaryAuthFailure, mechanism, username).ConfigureAwait(false);
            return;
        }
        // Unknown users get a fake credential: the exchange fails only at the proof (no user enumeration).
        var challenge = scram.CreateServerFirst(lookup.Account?.For(hash));
        _scram = scram;
        _username = lookup.Account is null ? "" : username;
        await stream.SendAsync(new XmlElement("challenge", Ns.Sasl).Add(Convert.ToBase64String(challenge))).ConfigureAwait(false);
    }

    private async ValueTask PlainAsync(C2sStream stream, byte[] message)
    {
        _plainPending = false;
        var failure = PlainMechanism.Parse(message, out var authzid, out var username, out var password);
        if (failure != SaslFailure.None)
        {
            await FailAsync(stream, failure, "PLAIN", "-").ConfigureAwait(false);
            return;
        }
        if (!IsValidAuthzid(stream, username, authzid))
        {
            await FailAsync(stream, SaslFailure.InvalidAuthzid, "PLAIN", username).ConfigureAwait(false);
            return;
        }
        if (!await ThrottleAsync(stream, username).ConfigureAwait(false)) return;
        var lookup = await FindAccountAsync(stream, username).ConfigureAwait(false);
        if (lookup.Failed)
        {
            await FailAsync(stream, SaslFailure.TemporaryAuthFailure, "PLAIN", username).ConfigureAwait(false);
            return;
        }
        // The same work for an unknown user as for a wrong password (no user oracle in the timing).
        var verified = Security.PasswordCheck.Verify(lookup.Account, password, stream.Server.Options.Sasl.ScramIterations);
        if (!verified || lookup.Account is null)
        {
            await FailAsync(stream, SaslFailure.NotAuthorized, "PLAIN", username).ConfigureAwait(false);
            return;
        }
        await SucceedAsync(stream, lookup.Account, "PLAIN", null).ConfigureAwait(false);
    }

    private async ValueTask OnResponseAsync(C2sStream stream, XmlElement response)
    {
        if (!TryDecode(response.Text, out var data))
        {
            _scram = null;
            await FailAsync(stream, SaslFailure.IncorrectEncoding, "-", "-").ConfigureAwait(false);
            return;
        }
        if (_pendingScram is { } pending)
        {
            _pendingScram = null;
            await StartScramAsync(stream, pending, data).ConfigureAwait(false);
            return;
        }
        if (_plainPending)
        {
            await PlainAsync(stream, data).ConfigureAwait(false);
            return;
        }
        var scram = _scram;
        if (scram is null)
        {
            // A response with no exchange in progress.
            await FailAsync(stream, SaslFailure.MalformedRequest, "-", "-").ConfigureAwait(false);
            return;
        }
        _scram = null;
        var failure = scram.ReceiveClientFinal(data, out var serverFinal);
        if (failure != SaslFailure.None || _username.Length == 0)
        {
            await FailAsync(stream, failure == SaslFailure.None ? SaslFailure.NotAuthorized : failure, scram.Mechanism, _username).ConfigureAwait(false);
            return;
        }
        var account = await FindAccountAsync(stream, _username).ConfigureAwait(false);
        if (account.Account is null)
        {
            await FailAsync(stream, SaslFailure.NotAuthorized, scram.Mechanism, _username).ConfigureAwait(false);
            return;
        }
        await SucceedAsync(stream, account.Account, scram.Mechanism, serverFinal).ConfigureAwait(false);
    }

    private static async ValueTask SucceedAsync(C2sStream stream, Account account, string mechanism, byte[]? additionalData)
    {
        stream.User = Jid.Create(account.Username, account.Domain);
        stream.Server.LoginThrottle.Succeeded(Security.LoginThrottle.ParseEndPoint(stream.RemoteEndPoint));
        ServerLog.Authenticated(stream.Server.StreamLogger, stream.Id, stream.User.ToString(), mechanism);
        stream.Server.Metrics.AuthSucceeded(mechanism);
        stream.EndNegotiation();
        var success = new XmlElement("success", Ns.Sasl);
        if (additionalData is not null) success.Add(Convert.ToBase64String(additionalData));
        await stream.SendAsync(success).ConfigureAwait(false);
        stream.RequestRestart();
    }

    private static async ValueTask FailAsync(C2sStream stream, SaslFailure failure, string mechanism, string user)
    {
        ServerLog.AuthenticationFailed(stream.Server.StreamLogger, stream.Id, user, mechanism, failure.ToElementName());
        if (failure != SaslFailure.Aborted) stream.Server.Metrics.AuthFailed(mechanism, failure.ToElementName());
        if (failure == SaslFailure.NotAuthorized)
        {
            // A wrong password or an unknown user: counted per source and per account (issue 19).
            stream.Server.LoginThrottle.Failed(Security.LoginThrottle.ParseEndPoint(stream.RemoteEndPoint), AccountKey(stream, user));
        }
        await stream.SendAsync(Failure(failure)).ConfigureAwait(false);
        if (failure == SaslFailure.Aborted) return;
        stream.SaslFailures++;
        // RFC 6120 §6.4.5: a reasonable number of retries, then policy-violation.
        if (stream.SaslFailures >= stream.Server.Options.Sasl.MaxFailures)
        {
            await stream.CloseAsync(new StreamError(StreamErrorCondition.PolicyViolation, "Too many failed authentication attempts."), "too many SASL failures").ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Issue 19: a source banned for failed logins is closed with policy-violation (as ejabberd's mod_fail2ban does);
    /// a source that failed recently waits before its password is checked. False when the stream was closed.
    /// </summary>
    private static async ValueTask<bool> ThrottleAsync(C2sStream stream, string username)
    {
        var verdict = stream.Server.LoginThrottle.Check(Security.LoginThrottle.ParseEndPoint(stream.RemoteEndPoint), AccountKey(stream, username));
        if (verdict.Banned)
        {
            var minutes = (int)Math.Ceiling(verdict.BannedFor.TotalMinutes);
            ServerLog.AuthenticationFailed(stream.Server.StreamLogger, stream.Id, username, "-", "banned");
            stream.Server.Metrics.AuthFailed("-", "banned");
            await stream.CloseAsync(new StreamError(StreamErrorCondition.PolicyViolation,
                $"Too many failed logins from this address; try again in {minutes} minute{(minutes == 1 ? "" : "s")}."), "login ban").ConfigureAwait(false);
            return false;
        }
        if (verdict.Delay > TimeSpan.Zero) await Task.Delay(verdict.Delay, stream.Server.Time).ConfigureAwait(false);
        return !stream.IsClosing;
    }

    /// <summary>The bare JID a SASL username names on this domain, or null ("-", empty, not a valid localpart).</summary>
    private static string? AccountKey(C2sStream stream, string user) =>
        user.Length == 0 || user == "-" || !Jid.TryParse(user + "@" + stream.Server.Domain, out var jid) || jid is null || jid.Local is null || jid.Resource is not null
            ? null : jid.ToString();

    internal static XmlElement Failure(SaslFailure failure, string? text = null)
    {
        var element = new XmlElement("failure", Ns.Sasl).Add(new XmlElement(failure.ToElementName(), Ns.Sasl));
        if (text is not null) element.Add(new XmlElement("text", Ns.Sasl).SetAttribute("lang", "en", XmlNamespaces.Xml).Add(text));
        return element;
    }

    /// <summary>An authzid, when given, must be the account itself (no proxy authorization).</summary>
    private static bool IsValidAuthzid(C2sStream stream, string username, string? authzid)
    {
        if (string.IsNullOrEmpty(authzid)) return true;
        if (!Jid.TryParse(authzid, out var jid) || jid is null || !jid.IsBare) return false;
        return jid.Domain == stream.Server.Domain && Jid.TryParse(username + "@" + stream.Server.Domain, out var self) && self == jid;
    }

    private static async ValueTask<(Account? Account, bool Failed)> FindAccountAsync(C2sStream stream, string username)
    {
        // A username that is not a valid localpart cannot name an account.
        if (!Jid.TryParse(username + "@" + stream.Server.Domain, out var jid) || jid is null || jid.Local is null || jid.Resource is not null)
        {
            return (null, false);
        }
        try
        {
            return (await stream.Server.Storage.Accounts.FindAsync(jid.Domain, jid.Local).ConfigureAwait(false), false);
        }
        catch (StorageException)
        {
            return (null, true);
        }
    }

    /// <summary>SASL payloads are base64; "=" is an empty response (RFC 6120 §6.4.2).</summary>
    private static bool TryDecode(string text, out byte[] data)
    {
        var trimmed = text.Trim();
        if (trimmed.Length == 0 || trimmed == "=")
        {
            data = [];
            return true;
        }
        data = new byte[(trimmed.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64String(trimmed, data, out var written))
        {
            data = [];
            return false;
        }
        Array.Resize(ref data, written);
        return true;
    }
}
