using Tendril.Protocol;
using Tendril.Protocol.Sasl;
using Tendril.Xml;

namespace Tendril.Server.Streams.States;

/// <summary>TLS is required and not yet negotiated: only &lt;starttls/&gt; is acceptable (RFC 6120 §5.3.1, §5.4.2).</summary>
internal sealed class TlsState : C2sState
{
    public static TlsState Instance { get; } = new();

    public override string Name => "Tls";

    public override ValueTask OnElementAsync(C2sStream stream, XmlElement element)
    {
        if (element.Is("starttls", Ns.Tls)) return stream.BeginStartTlsAsync();
        if (element.Is("auth", Ns.Sasl))
        {
            // §6.4.1 / RFC 6120 §6.5.4: SASL is refused until TLS protects the stream.
            return stream.SendAsync(AuthState.Failure(SaslFailure.EncryptionRequired, "TLS is required before authentication."));
        }
        return NotAuthorizedAsync(stream, element);
    }
}
