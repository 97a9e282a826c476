using System.Net.Security;
using System.Threading.Channels;
using Tendril.Protocol;

namespace Tendril.Client;

/// <summary>How an <see cref="XmppClient"/> connects and authenticates.</summary>
public sealed class XmppClientOptions
{
    /// <summary>The account: a bare JID (<c>user@domain</c>). A resource part here is used as <see cref="Resource"/> when that is null.</summary>
    public required Jid Jid { get; init; }

    public required string Password { get; init; }

    /// <summary>Host name or address to connect to. Null: the JID's domain (no SRV lookup is done).</summary>
    public string? Host { get; init; }

    /// <summary>TCP port. Null: 5222, or 5223 with <see cref="DirectTls"/>.</summary>
    public int? Port { get; init; }

    /// <summary>
    /// Local address to bind the socket to before connecting (e.g. one of several loopback addresses, so that many
    /// connections to one server port do not run out of ephemeral ports). Null: chosen by the system.
    /// </summary>
    public System.Net.IPAddress? LocalAddress { get; init; }

    /// <summary>TLS from the first byte (XEP-0368, ALPN <c>xmpp-client</c>) instead of STARTTLS.</summary>
    public bool DirectTls { get; init; }

    /// <summary>Resource to request at bind. Null: the server generates one.</summary>
    public string? Resource { get; init; }

    /// <summary>
    /// Force one SASL mechanism (<c>SCRAM-SHA-256</c>, <c>SCRAM-SHA-1</c> or <c>PLAIN</c>). Null: the best one the
    /// server offers, in that order. PLAIN is only ever used over TLS (this client never runs without TLS).
    /// </summary>
    public string? Mechanism { get; init; }

    /// <summary>Certificate validation. Null: only certificates without any policy error are accepted.</summary>
    public RemoteCertificateValidationCallback? CertificateValidation { get; init; }

    /// <summary>Accept any server certificate (self-signed test servers). Overrides <see cref="CertificateValidation"/>.</summary>
    public bool AcceptAnyCertificate { get; init; }

    /// <summary>Largest stanza accepted from the server; a bigger one ends the connection.</summary>
    public int MaxStanzaBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// Capacity of <see cref="XmppClient.Stanzas"/>. 0 disables the queue: stanzas only reach
    /// <see cref="XmppClient.StanzaReceived"/> (cheapest; used by the load tool).
    /// </summary>
    public int StanzaQueueCapacity { get; init; } = 10_000;

    /// <summary>
    /// What happens when <see cref="XmppClient.Stanzas"/> is full. <see cref="BoundedChannelFullMode.Wait"/> (default):
    /// the read loop stops reading the socket until there is room — TCP pushes back on the server, and nothing else
    /// (iq responses, pings) is processed meanwhile. The Drop modes never stall the connection but lose stanzas.
    /// </summary>
    public BoundedChannelFullMode StanzaQueueFullMode { get; init; } = BoundedChannelFullMode.Wait;

    /// <summary>Time limit of <see cref="XmppClient.ConnectAsync"/> (TCP, TLS, SASL and bind together).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Default time limit of <see cref="XmppClient.SendIqAsync"/>.</summary>
    public TimeSpan IqTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Minimum SCRAM iteration count accepted from the server (RFC 7677 recommends at least 4096).</summary>
    public int MinimumScramIterations { get; init; } = 4096;

    /// <summary>xml:lang of the stream header.</summary>
    public string Language { get; init; } = "en";
}
