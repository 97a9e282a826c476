using Tendril.Server.Configuration;
using System.Net;
using Tendril.Protocol;
using Tendril.Protocol.Errors;
using Tendril.Protocol.Sasl;
using Tendril.Server.Streams;
using Tendril.Storage;
using Tendril.Xml;

namespace Tendril.Server.Features.Registration;

/// <summary>
/// In-band registration (XEP-0077) for authenticated users: the registration form with <c>&lt;registered/&gt;</c>
/// (§3.1), password change (§3.3, always allowed for one's own account) and cancellation (§3.2, only while
/// <c>Tendril:Registration:Enabled</c> is on); before authentication, the &lt;register/&gt; stream feature (§8) and
/// account creation (§3.1, <see cref="InBandRegistration.HandlePreAuthAsync"/>), on encrypted streams only.
/// </summary>
public sealed class RegistrationFeature : IServerFeature
{
    /// <summary>Registrations per remote address (<c>Tendril:Registration:MaxPerIpPerHour</c>).</summary>
    private readonly RegistrationRateLimiter _limiter = new();

    public void Register(FeatureRegistry registry)
    {
        registry.AddDiscoFeature(InBandRegistration.Namespace);
        registry.HandleIq("query", InBandRegistration.Namespace, HandleAsync, IqTarget.Server | IqTarget.Account);
        // §8: offered only when enabled and only over TLS (the password travels in the clear inside the stream).
        registry.AddStreamFeature(NegotiationStep.Authentication, stream => stream.IsSecure && stream.Server.Options.Registration.Enabled ? InBandRegistration.StreamFeature() : null);
        registry.HandlePreAuthIq("query", InBandRegistration.Namespace, (stream, iq) => InBandRegistration.HandlePreAuthAsync(stream, iq, _limiter));
    }

    private static async ValueTask HandleAsync(IqRequest request)
    {
        var user = request.From.Bare;
        // Only one's own registration with this server: the domain, or one's own bare JID (or no 'to').
        if (request.From.Local is null || (!request.To.IsDomain && request.To != user))
        {
            request.ReplyError(StanzaErrorCondition.Forbidden);
            return;
        }
        var server = request.Server;
        if (request.IsGet)
        {
            var form = InBandRegistration.Form(registered: true);
            form.Element("username", InBandRegistration.Namespace)!.Add(user.Local!);
            request.Reply(form);
            return;
        }
        if (request.Payload.Element("remove", InBandRegistration.Namespace) is not null)
        {
            if (!server.Options.Registration.Enabled)
            {
                request.ReplyError(StanzaErrorCondition.NotAllowed, "Accounts cannot be removed in-band on this server.");
                return;
            }
            bool deleted;
            try
            {
                deleted = await server.Storage.Accounts.DeleteAsync(user.Domain, user.Local!).ConfigureAwait(false);
            }
            catch (StorageException)
            {
                request.ReplyError(StanzaErrorCondition.InternalServerError);
                return;
            }
            if (!deleted)
            {
                request.ReplyError(StanzaErrorCondition.ItemNotFound);
                return;
            }
            request.Reply();
            // §3.2: the server SHOULD then terminate all active sessions of the entity with <not-authorized/>.
            // On every cluster node.
            await server.CloseSessionsAsync(user.Bare, new StreamError(StreamErrorCondition.NotAuthorized, "The account was removed."), "account removed in-band").ConfigureAwait(false);
            return;
        }
        // §3.3: password change: <username/> must be the user's own, <password/> the new one.
        var username = request.Payload.Element("username", InBandRegistration.Namespace)?.Text.Trim();
        var password = request.Payload.Element("password", InBandRegistration.Namespace)?.Text;
        if (string.IsNullOrEmpty(username) || string.IsNullOrEmpty(password))
        {
            request.ReplyError(StanzaErrorCondition.BadRequest, "Both <username/> and <password/> are required.");
            return;
        }
        if (!Jid.TryParse(username + "@" + server.Domain, out var named) || named is null || named.Bare != user)
        {
            request.ReplyError(StanzaErrorCondition.NotAuthorized, "Only your own password can be changed.");
            return;
        }
        var iterations = server.Options.Sasl.ScramIterations;
        try
        {
            var (sha1, sha256) = await Task.Run(() => InBandRegistration.Credentials(password, iterations)).ConfigureAwait(false);
            if (!await server.Storage.Accounts.UpdateCredentialsAsync(user.Domain, user.Local!, sha1, sha256).ConfigureAwait(false))
            {
                request.ReplyError(StanzaErrorCondition.ItemNotFound);
                return;
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            request.ReplyError(StanzaErrorCondition.NotAcceptable, "The password is not acceptable.");
            return;
        }
        catch (StorageException)
        {
            request.ReplyError(StanzaErrorCondition.InternalServerError);
            return;
        }
        request.Reply();
    }
}

/// <summary>XEP-0077 pieces shared by the pre-authentication path and <see cref="RegistrationFeature"/>.</summary>
public static class InBandRegistration
{
    public const string Namespace = "jabber:iq:register";
    public const string StreamFeatureNamespace = "http://jabber.org/features/iq-register";

    /// <summary>The &lt;register/&gt; stream feature (§8), offered before authentication on secure streams when enabled.</summary>
    public static XmlElement StreamFeature() => new("register", StreamFeatureNamespace);

    /// <summary>The registration fields (§3.1, Example 2), with &lt;registered/&gt; for an existing account.</summary>
    public static XmlElement Form(bool registered)
    {
        var query = new XmlElement("query", Namespace);
        if (registered) query.AddElement("registered");
        query.AddElement("instructions").Add(registered
            ? "You are registered. Send a new <password/> with your <username/> to change it, or <remove/> to delete the account."
            : "Choose a username and password for use with this server.");
        query.AddElement("username");
        query.AddElement("password");
        return query;
    }

    internal static (ScramCredential Sha1, ScramCredential Sha256) Credentials(string password, int iterations) =>
        (ScramCredential.Create(password, ScramHash.Sha1, iterations), ScramCredential.Create(password, ScramHash.Sha256, iterations));

    /// <summary>
    /// Handles a register iq that arrived before authentication on a secure stream (§3.1): get returns the form,
    /// set creates the account. Disabled registration answers <c>service-unavailable</c> (§3.1).
    /// </summary>
    internal static async ValueTask HandlePreAuthAsync(C2sStream stream, XmlElement iq, RegistrationRateLimiter limiter)
    {
        var server = stream.Server;
        var options = server.Options.Registration;
        var query = iq.FirstElement()!;
        if (!options.Enabled)
        {
            await ReplyErrorAsync(stream, iq, StanzaErrorCondition.ServiceUnavailable).ConfigureAwait(false);
            return;
        }
        if (iq.GetAttribute("type") == "get")
        {
            await stream.SendAsync(Result(iq).Add(Form(registered: false))).ConfigureAwait(false);
            return;
        }
        if (query.Element("remove", Namespace) is not null)
        {
            // Cancelling needs an authenticated stream (§3.2).
            await ReplyErrorAsync(stream, iq, StanzaErrorCondition.NotAuthorized).ConfigureAwait(false);
            return;
        }
        var username = query.Element("username", Namespace)?.Text.Trim();
        var password = query.Element("password", Namespace)?.Text;
        if (string.IsNullOrEmpty(username) || string.IsNullOrEmpty(password))
        {
            await ReplyErrorAsync(stream, iq, StanzaErrorCondition.NotAcceptable, "Both <username/> and <password/> are required.").ConfigureAwait(false);
            return;
        }
        if (!Jid.TryParse(username + "@" + server.Domain, out var jid) || jid is null || jid.Local is null || jid.Resource is not null)
        {
            await ReplyErrorAsync(stream, iq, StanzaErrorCondition.JidMalformed, "The username is not a valid JID localpart.").ConfigureAwait(false);
            return;
        }
        var address = AddressOf(stream.RemoteEndPoint);
        var now = server.Time.GetUtcNow();
        if (!limiter.CanRegister(address, now, options.MaxPerIpPerHour))
        {
            await ReplyErrorAsync(stream, iq, StanzaErrorCondition.ResourceConstraint, "Too many registrations from your address; try again later.").ConfigureAwait(false);
            return;
        }
        var iterations = server.Options.Sasl.ScramIterations;
        bool created;
        try
        {
            var (sha1, sha256) = await Task.Run(() => Credentials(password, iterations)).ConfigureAwait(false);
            created = await server.Storage.Accounts.CreateAsync(new Account(jid.Local, jid.Domain, sha1, sha256, now)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            await ReplyErrorAsync(stream, iq, StanzaErrorCondition.NotAcceptable, "The password is not acceptable.").ConfigureAwait(false);
            return;
        }
        catch (StorageException)
        {
            await ReplyErrorAsync(stream, iq, StanzaErrorCondition.InternalServerError).ConfigureAwait(false);
            return;
        }
        if (!created)
        {
            await ReplyErrorAsync(stream, iq, StanzaErrorCondition.Conflict, "The username is taken.").ConfigureAwait(false);
            return;
        }
        limiter.Record(address, now);
        await stream.SendAsync(Result(iq)).ConfigureAwait(false);
    }

    private static XmlElement Result(XmlElement iq) =>
        new XmlElement("iq", Ns.Client).SetAttribute("type", "result").SetAttribute("id", iq.GetAttribute("id") ?? "");

    private static ValueTask ReplyErrorAsync(C2sStream stream, XmlElement iq, StanzaErrorCondition condition, string? text = null)
    {
        var reply = StanzaError.Of(condition, text).ToReply(iq);
        reply.RemoveAttribute("from");
        reply.RemoveAttribute("to");
        return stream.SendAsync(reply);
    }

    /// <summary>The IP address of "address:port" (or "[v6]:port"); anything else is used as it is.</summary>
    internal static string AddressOf(string remoteEndPoint) =>
        IPEndPoint.TryParse(remoteEndPoint, out var endPoint) ? endPoint.Address.ToString() : remoteEndPoint;
}

/// <summary>Registrations per remote address over a sliding hour, in memory.</summary>
internal sealed class RegistrationRateLimiter
{
    private static readonly TimeSpan s_window = TimeSpan.FromHours(1);
    private readonly Dictionary<string, Queue<DateTimeOffset>> _byAddress = new(StringComparer.Ordinal);

    public bool CanRegister(string address, DateTimeOffset now, int limit)
    {
        lock (_byAddress)
        {
            return !_byAddress.TryGetValue(address, out var times) || Prune(times, now) < limit;
        }
    }

    public void Record(string address, DateTimeOffset now)
    {
        lock (_byAddress)
        {
            if (!_byAddress.TryGetValue(address, out var times)) _byAddress[address] = times = new Queue<DateTimeOffset>();
            times.Enqueue(now);
            // Forget addresses whose window emptied, so the table stays small.
            foreach (var (key, queue) in _byAddress.ToArray())
            {
                if (Prune(queue, now) == 0) _byAddress.Remove(key);
            }
        }
    }

    private static int Prune(Queue<DateTimeOffset> times, DateTimeOffset now)
    {
        while (times.Count > 0 && now - times.Peek() >= s_window) times.Dequeue();
        return times.Count;
    }
}
