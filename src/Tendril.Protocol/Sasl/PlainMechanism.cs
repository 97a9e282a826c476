namespace Tendril.Protocol.Sasl;

/// <summary>SASL PLAIN message parsing (RFC 4616): <c>[authzid] NUL authcid NUL passwd</c>.</summary>
public static class PlainMechanism
{
    /// <summary>Parses a PLAIN initial response; returns <see cref="SaslFailure.MalformedRequest"/> on bad input.</summary>
    public static SaslFailure Parse(ReadOnlySpan<byte> message, out string? authzid, out string username, out string password) => throw new NotImplementedException();
}
