namespace Tendril.Protocol.Sasl;

public enum ScramHash
{
    Sha1,
    Sha256,
}

/// <summary>
/// What the server stores for one SCRAM mechanism (RFC 5802 §3): salt, iteration count, StoredKey, ServerKey.
/// The password itself is never stored.
/// </summary>
public sealed record ScramCredential(ScramHash Hash, byte[] Salt, int Iterations, byte[] StoredKey, byte[] ServerKey)
{
    /// <summary>Derives a credential from a password (SASLprep-normalized per RFC 5802 §2.2) with a fresh random salt.</summary>
    public static ScramCredential Create(string password, ScramHash hash, int iterations, byte[]? salt = null) => throw new NotImplementedException();

    /// <summary>Checks a plain password against this credential (for SASL PLAIN), in constant time.</summary>
    public bool Verify(string password) => throw new NotImplementedException();
}
