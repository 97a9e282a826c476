using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tendril.Protocol.Sasl;

/// <summary>
/// Client side of one SCRAM exchange (RFC 5802, RFC 7677), without channel binding (gs2 header <c>n,,</c>).
/// Usage: <see cref="CreateClientFirst"/> → <see cref="CreateClientFinal"/> → <see cref="VerifyServerFinal"/>.
/// </summary>
/// <remarks>
/// The expensive PBKDF2 result is kept in a small process-wide cache keyed by (hash, password, salt, iterations),
/// so that many logins with the same password (load testing) derive it once.
/// </remarks>
public sealed class ScramClient
{
    /// <summary>The default minimum iteration count accepted from a server.</summary>
    public const int DefaultMinimumIterations = 4096;

    private const int CacheLimit = 1024;
    private static readonly ConcurrentDictionary<(ScramHash, string, string, int), (byte[] ClientKey, byte[] ServerKey)> KeyCache = new();

    private enum State { Initial, SentClientFirst, SentClientFinal, Done }

    private readonly string _password;
    private readonly string _clientNonce;
    private readonly string _gs2Header;
    private string _clientFirstBare = string.Empty;
    private byte[]? _expectedServerSignature;
    private State _state;

    /// <exception cref="ArgumentException">The username or password is prohibited by SASLprep, or the nonce is not printable.</exception>
    public ScramClient(ScramHash hash, string username, string password, string? clientNonce = null)
        : this(hash, username, password, clientNonce, authzid: null)
    {
    }

    /// <param name="authzid">Authorization identity to send in the gs2 header, or null.</param>
    public ScramClient(ScramHash hash, string username, string password, string? clientNonce, string? authzid)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        _ = Scram.HashLength(hash);
        Hash = hash;
        Username = SaslPrep.Prepare(username, nameof(username));
        if (Username.Length == 0)
            throw new ArgumentException("The username must not be empty.", nameof(username));
        _password = SaslPrep.Prepare(password, nameof(password));
        if (clientNonce is not null && (clientNonce.Length == 0 || !Scram.IsPrintable(clientNonce)))
            throw new ArgumentException("The nonce must consist of printable ASCII characters other than ','.", nameof(clientNonce));
        _clientNonce = clientNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        if (authzid is { Length: 0 })
            authzid = null;
        _gs2Header = authzid is null ? "n,," : "n,a=" + Scram.EncodeSaslName(authzid) + ",";
    }

    public ScramHash Hash { get; }

    /// <summary>The SASLprep-normalized username.</summary>
    public string Username { get; }

    /// <summary>"SCRAM-SHA-1" or "SCRAM-SHA-256".</summary>
    public string Mechanism => Scram.MechanismName(Hash);

    /// <summary>client-first-message, e.g. <c>n,,n=user,r=nonce</c>.</summary>
    public byte[] CreateClientFirst()
    {
        if (_state != State.Initial)
            throw new InvalidOperationException("client-first-message has already been created.");
        _clientFirstBare = "n=" + Scram.EncodeSaslName(Username) + ",r=" + _clientNonce;
        _state = State.SentClientFirst;
        return Encoding.UTF8.GetBytes(_gs2Header + _clientFirstBare);
    }

    /// <summary>Processes server-first-message and builds client-final-message.</summary>
    /// <exception cref="FormatException">
    /// server-first-message is malformed, has a mandatory extension, a nonce that does not extend ours, or an iteration
    /// count below <paramref name="minimumIterations"/>.
    /// </exception>
    public byte[] CreateClientFinal(ReadOnlySpan<byte> serverFirst, int minimumIterations = DefaultMinimumIterations)
    {
        if (_state != State.SentClientFirst)
            throw new InvalidOperationException("CreateClientFinal must follow CreateClientFirst.");
        var text = Scram.TryDecodeUtf8(serverFirst) ?? throw new FormatException("server-first-message is not valid UTF-8.");
        var parts = text.Split(',');
        if (parts.Length < 3 || parts[0].StartsWith("m=", StringComparison.Ordinal))
            throw new FormatException("server-first-message is malformed or has an unsupported mandatory extension.");
        if (!parts[0].StartsWith("r=", StringComparison.Ordinal) || !parts[1].StartsWith("s=", StringComparison.Ordinal)
            || !parts[2].StartsWith("i=", StringComparison.Ordinal))
            throw new FormatException("server-first-message is malformed.");
        var nonce = parts[0][2..];
        if (nonce.Length <= _clientNonce.Length || !nonce.StartsWith(_clientNonce, StringComparison.Ordinal) || !Scram.IsPrintable(nonce))
            throw new FormatException("The server nonce does not extend the client nonce.");
        var salt = Scram.TryFromBase64(parts[1].AsSpan(2)) ?? throw new FormatException("The salt is not valid base64.");
        var itText = parts[2].AsSpan(2);
        if (itText.IsEmpty || itText.Length > 10 || itText.ContainsAnyExceptInRange('0', '9')
            || !int.TryParse(itText, NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations < 1)
            throw new FormatException("The iteration count is invalid.");
        if (iterations < minimumIterations)
            throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"The iteration count {iterations} is below the minimum {minimumIterations}."));
        for (var i = 3; i < parts.Length; i++)
        {
            if (!Scram.IsAttrVal(parts[i]))
                throw new FormatException("server-first-message has a malformed extension.");
        }

        var (clientKey, serverKey) = GetKeys(salt, parts[1][2..], iterations);
        var withoutProof = "c=" + Convert.ToBase64String(Encoding.UTF8.GetBytes(_gs2Header)) + ",r=" + nonce;
        var authMessage = Encoding.UTF8.GetBytes(string.Concat(_clientFirstBare, ",", text, ",", withoutProof));
        var storedKey = Scram.H(Hash, clientKey);
        var proof = Scram.Hmac(Hash, storedKey, authMessage);
        for (var i = 0; i < proof.Length; i++)
            proof[i] ^= clientKey[i];
        _expectedServerSignature = Scram.Hmac(Hash, serverKey, authMessage);
        _state = State.SentClientFinal;
        return Encoding.UTF8.GetBytes(withoutProof + ",p=" + Convert.ToBase64String(proof));
    }

    /// <summary>Checks server-final-message; false for a wrong signature, a server error (<c>e=</c>) or garbage.</summary>
    public bool VerifyServerFinal(ReadOnlySpan<byte> serverFinal)
    {
        if (_state != State.SentClientFinal)
            throw new InvalidOperationException("VerifyServerFinal must follow CreateClientFinal.");
        _state = State.Done;
        var text = Scram.TryDecodeUtf8(serverFinal);
        if (text is null || !text.StartsWith("v=", StringComparison.Ordinal))
            return false;
        var end = text.IndexOf(',', StringComparison.Ordinal);
        var signature = Scram.TryFromBase64(end < 0 ? text.AsSpan(2) : text.AsSpan(2, end - 2));
        return signature is not null && CryptographicOperations.FixedTimeEquals(signature, _expectedServerSignature);
    }

    private (byte[] ClientKey, byte[] ServerKey) GetKeys(byte[] salt, string saltText, int iterations)
    {
        var key = (Hash, _password, saltText, iterations);
        if (KeyCache.TryGetValue(key, out var keys))
            return keys;
        keys = Scram.DeriveKeys(Hash, _password, salt, iterations);
        if (KeyCache.Count >= CacheLimit)
            KeyCache.Clear();
        KeyCache[key] = keys;
        return keys;
    }
}
