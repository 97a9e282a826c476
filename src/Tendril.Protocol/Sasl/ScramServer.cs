using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tendril.Protocol.Sasl;

/// <summary>
/// Server side of one SCRAM exchange (RFC 5802, RFC 7677), without channel binding.
/// Usage: <see cref="ReceiveClientFirst"/> → look up the user's credential → <see cref="CreateServerFirst"/>
/// → <see cref="ReceiveClientFinal"/>. One instance per authentication attempt.
/// </summary>
/// <remarks>
/// A gs2 header requesting channel binding (<c>p=</c>) is answered with <see cref="SaslFailure.MalformedRequest"/>
/// because the server does not advertise the -PLUS variants. Any failure ends the exchange; calling a method
/// out of order (or after a failure) throws <see cref="InvalidOperationException"/>.
/// </remarks>
public sealed class ScramServer
{
    /// <summary>Length in bytes of the random part of the server nonce (before base64).</summary>
    public const int ServerNonceLength = 24;

    private static readonly byte[] FakeSecret = RandomNumberGenerator.GetBytes(32);

    private enum State { Initial, ReceivedClientFirst, SentServerFirst, Done, Failed }

    private readonly string? _fixedServerNonce;
    private State _state;
    private string _username = string.Empty;
    private string _gs2HeaderBase64 = string.Empty;
    private string _clientFirstBare = string.Empty;
    private string _serverFirst = string.Empty;
    private string _nonce = string.Empty;
    private ScramCredential? _credential;

    public ScramServer(ScramHash hash)
    {
        _ = Scram.HashLength(hash); // validates
        Hash = hash;
    }

    /// <summary>For tests: a fixed server nonce part (RFC test vectors).</summary>
    internal ScramServer(ScramHash hash, string serverNonce) : this(hash)
    {
        if (serverNonce.Length == 0 || !Scram.IsPrintable(serverNonce))
            throw new ArgumentException("The nonce must be printable.", nameof(serverNonce));
        _fixedServerNonce = serverNonce;
    }

    public ScramHash Hash { get; }

    /// <summary>"SCRAM-SHA-1" or "SCRAM-SHA-256".</summary>
    public string Mechanism => Scram.MechanismName(Hash);

    /// <summary>
    /// Iteration count announced for unknown users (see <see cref="CreateServerFirst"/>); set it to the count used for
    /// real credentials so that unknown users cannot be told apart. Default 4096.
    /// </summary>
    public int UnknownUserIterations
    {
        get;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            field = value;
        }
    } = 4096;

    /// <summary>
    /// Parses client-first-message (the decoded bytes of the initial response). On success returns
    /// <see cref="SaslFailure.None"/> and the SASLprep-normalized username and the authzid (null when absent).
    /// </summary>
    public SaslFailure ReceiveClientFirst(ReadOnlySpan<byte> clientFirst, out string username, out string? authzid)
    {
        if (_state != State.Initial)
            throw new InvalidOperationException("client-first-message has already been received.");
        username = string.Empty;
        authzid = null;
        _state = State.Failed;

        var text = Scram.TryDecodeUtf8(clientFirst);
        if (text is null)
            return SaslFailure.MalformedRequest;

        // gs2-header = gs2-cbind-flag "," [ authzid ] ","
        var comma1 = text.IndexOf(',', StringComparison.Ordinal);
        if (comma1 < 0)
            return SaslFailure.MalformedRequest;
        var flag = text.AsSpan(0, comma1);
        if (!(flag is "n" or "y"))
            return SaslFailure.MalformedRequest; // "p=..." (channel binding is not offered) or garbage
        var comma2 = text.IndexOf(',', comma1 + 1);
        if (comma2 < 0)
            return SaslFailure.MalformedRequest;
        var authzPart = text.AsSpan(comma1 + 1, comma2 - comma1 - 1);
        if (!authzPart.IsEmpty)
        {
            if (!authzPart.StartsWith("a="))
                return SaslFailure.MalformedRequest;
            authzid = Scram.DecodeSaslName(authzPart[2..]);
            if (authzid is null)
                return SaslFailure.MalformedRequest;
        }
        var gs2Header = text[..(comma2 + 1)];
        var bare = text[(comma2 + 1)..];

        // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
        var parts = bare.Split(',');
        if (parts.Length < 2 || parts[0].StartsWith("m=", StringComparison.Ordinal))
            return SaslFailure.MalformedRequest;
        if (!parts[0].StartsWith("n=", StringComparison.Ordinal) || !parts[1].StartsWith("r=", StringComparison.Ordinal))
            return SaslFailure.MalformedRequest;
        var name = Scram.DecodeSaslName(parts[0].AsSpan(2));
        if (name is null || !SaslPrep.TryPrepare(name, out var prepared) || prepared.Length == 0)
            return SaslFailure.MalformedRequest;
        var clientNonce = parts[1].AsSpan(2);
        if (clientNonce.IsEmpty || !Scram.IsPrintable(clientNonce))
            return SaslFailure.MalformedRequest;
        for (var i = 2; i < parts.Length; i++)
        {
            if (!Scram.IsAttrVal(parts[i]))
                return SaslFailure.MalformedRequest;
        }

        var serverNonce = _fixedServerNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(ServerNonceLength));
        _nonce = string.Concat(clientNonce, serverNonce);
        _gs2HeaderBase64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(gs2Header));
        _clientFirstBare = bare;
        _username = prepared;
        username = prepared;
        _state = State.ReceivedClientFirst;
        return SaslFailure.None;
    }

    /// <summary>
    /// Builds server-first-message for the user's credential. When the user does not exist, pass null:
    /// a deterministic fake credential is used so that the exchange fails only at the proof (no user enumeration).
    /// </summary>
    /// <exception cref="ArgumentException">The credential is for another hash function.</exception>
    public byte[] CreateServerFirst(ScramCredential? credential)
    {
        if (_state != State.ReceivedClientFirst)
            throw new InvalidOperationException("CreateServerFirst must follow a successful ReceiveClientFirst.");
        if (credential is not null && credential.Hash != Hash)
            throw new ArgumentException($"The credential is for {credential.Hash}, not {Hash}.", nameof(credential));
        _credential = credential ?? FakeCredential();
        _serverFirst = string.Create(CultureInfo.InvariantCulture,
            $"r={_nonce},s={Convert.ToBase64String(_credential.Salt)},i={_credential.Iterations}");
        _state = State.SentServerFirst;
        return Encoding.UTF8.GetBytes(_serverFirst);
    }

    /// <summary>Verifies client-final-message; on success <paramref name="serverFinal"/> holds the <c>v=</c> message.</summary>
    /// <remarks>
    /// Returns <see cref="SaslFailure.MalformedRequest"/> for syntax errors, a <c>c=</c> that is not the gs2 header of
    /// client-first-message, a nonce mismatch or a proof of the wrong length; <see cref="SaslFailure.NotAuthorized"/> for
    /// a wrong proof (including every proof for an unknown user). On failure <paramref name="serverFinal"/> is empty.
    /// </remarks>
    public SaslFailure ReceiveClientFinal(ReadOnlySpan<byte> clientFinal, out byte[] serverFinal)
    {
        if (_state != State.SentServerFirst)
            throw new InvalidOperationException("ReceiveClientFinal must follow CreateServerFirst.");
        serverFinal = [];
        _state = State.Failed;
        var credential = _credential!;

        var text = Scram.TryDecodeUtf8(clientFinal);
        if (text is null)
            return SaslFailure.MalformedRequest;

        // client-final-message = channel-binding "," nonce ["," extensions] "," proof
        var proofAt = text.LastIndexOf(",p=", StringComparison.Ordinal);
        if (proofAt < 0)
            return SaslFailure.MalformedRequest;
        var withoutProof = text[..proofAt];
        var proofText = text.AsSpan(proofAt + 3);
        if (proofText.Contains(','))
            return SaslFailure.MalformedRequest;
        var parts = withoutProof.Split(',');
        if (parts.Length < 2 || !parts[0].StartsWith("c=", StringComparison.Ordinal) || !parts[1].StartsWith("r=", StringComparison.Ordinal))
            return SaslFailure.MalformedRequest;
        if (!string.Equals(parts[0][2..], _gs2HeaderBase64, StringComparison.Ordinal))
            return SaslFailure.MalformedRequest;
        if (!string.Equals(parts[1][2..], _nonce, StringComparison.Ordinal))
            return SaslFailure.MalformedRequest;
        for (var i = 2; i < parts.Length; i++)
        {
            if (!Scram.IsAttrVal(parts[i]))
                return SaslFailure.MalformedRequest;
        }
        var proof = Scram.TryFromBase64(proofText);
        if (proof is null || proof.Length != Scram.HashLength(Hash))
            return SaslFailure.MalformedRequest;

        var authMessage = Encoding.UTF8.GetBytes(string.Concat(_clientFirstBare, ",", _serverFirst, ",", withoutProof));
        var clientSignature = Scram.Hmac(Hash, credential.StoredKey, authMessage);
        for (var i = 0; i < proof.Length; i++)
            proof[i] ^= clientSignature[i];
        if (!CryptographicOperations.FixedTimeEquals(Scram.H(Hash, proof), credential.StoredKey))
            return SaslFailure.NotAuthorized;

        var serverSignature = Scram.Hmac(Hash, credential.ServerKey, authMessage);
        serverFinal = Encoding.ASCII.GetBytes("v=" + Convert.ToBase64String(serverSignature));
        _state = State.Done;
        return SaslFailure.None;
    }

    /// <summary>
    /// A credential that no password matches, derived from the username and a per-process secret so that repeated
    /// attempts for the same unknown user see the same salt.
    /// </summary>
    private ScramCredential FakeCredential()
    {
        var name = Encoding.UTF8.GetBytes(_username);
        byte[] input = [.. "salt\0"u8, .. name];
        var salt = HMACSHA256.HashData(FakeSecret, input)[..ScramCredential.DefaultSaltLength];
        var length = Scram.HashLength(Hash);
        // Random keys: the StoredKey has no known preimage, so every proof fails.
        return new ScramCredential(Hash, salt, UnknownUserIterations, RandomNumberGenerator.GetBytes(length), RandomNumberGenerator.GetBytes(length));
    }
}
