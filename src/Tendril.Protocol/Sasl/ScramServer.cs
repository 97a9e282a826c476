namespace Tendril.Protocol.Sasl;

/// <summary>
/// Server side of one SCRAM exchange (RFC 5802, RFC 7677), without channel binding.
/// Usage: <see cref="ReceiveClientFirst"/> → look up the user's credential → <see cref="CreateServerFirst"/>
/// → <see cref="ReceiveClientFinal"/>. One instance per authentication attempt.
/// </summary>
public sealed class ScramServer
{
    public ScramServer(ScramHash hash) => throw new NotImplementedException();

    public ScramHash Hash { get; }

    /// <summary>"SCRAM-SHA-1" or "SCRAM-SHA-256".</summary>
    public string Mechanism => throw new NotImplementedException();

    /// <summary>
    /// Parses client-first-message (the decoded bytes of the initial response). On success returns
    /// <see cref="SaslFailure.None"/> and the SASLprep-normalized username and the authzid (null when absent).
    /// </summary>
    public SaslFailure ReceiveClientFirst(ReadOnlySpan<byte> clientFirst, out string username, out string? authzid) => throw new NotImplementedException();

    /// <summary>
    /// Builds server-first-message for the user's credential. When the user does not exist, pass null:
    /// a deterministic fake credential is used so that the exchange fails only at the proof (no user enumeration).
    /// </summary>
    public byte[] CreateServerFirst(ScramCredential? credential) => throw new NotImplementedException();

    /// <summary>Verifies client-final-message; on success <paramref name="serverFinal"/> holds the <c>v=</c> message.</summary>
    public SaslFailure ReceiveClientFinal(ReadOnlySpan<byte> clientFinal, out byte[] serverFinal) => throw new NotImplementedException();
}
