using System.Text;
using Tendril.Protocol.Sasl;

namespace Tendril.Protocol.Tests.Sasl;

public class ScramTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);
    private static string S(byte[] b) => Encoding.UTF8.GetString(b);

    public static TheoryData<ScramHash, string, string, string, string, string> Vectors => new()
    {
        // RFC 5802 §5
        { ScramHash.Sha1, "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j", "QSXCR+Q6sek8bf92", "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "rmF9pqV8S7suAoZWja4dJRkFsKQ=" },
        // RFC 7677 §3
        { ScramHash.Sha256, "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", "W22ZaJ0SNY7soEsUEjb6gQ==", "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" },
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Server_reproduces_rfc_vectors(ScramHash hash, string cnonce, string snonce, string salt, string proof, string verifier)
    {
        var credential = ScramCredential.Create("pencil", hash, 4096, Convert.FromBase64String(salt));
        var server = new ScramServer(hash, snonce);
        Assert.Equal(SaslFailure.None, server.ReceiveClientFirst(B($"n,,n=user,r={cnonce}"), out var user, out var authzid));
        Assert.Equal("user", user);
        Assert.Null(authzid);
        Assert.Equal($"r={cnonce}{snonce},s={salt},i=4096", S(server.CreateServerFirst(credential)));
        Assert.Equal(SaslFailure.None, server.ReceiveClientFinal(B($"c=biws,r={cnonce}{snonce},p={proof}"), out var final));
        Assert.Equal($"v={verifier}", S(final));
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Client_reproduces_rfc_vectors(ScramHash hash, string cnonce, string snonce, string salt, string proof, string verifier)
    {
        var client = new ScramClient(hash, "user", "pencil", cnonce);
        Assert.Equal($"n,,n=user,r={cnonce}", S(client.CreateClientFirst()));
        var final = client.CreateClientFinal(B($"r={cnonce}{snonce},s={salt},i=4096"));
        Assert.Equal($"c=biws,r={cnonce}{snonce},p={proof}", S(final));
        Assert.True(client.VerifyServerFinal(B($"v={verifier}")));
    }

    [Fact]
    public void Client_rejects_wrong_server_signature()
    {
        var client = new ScramClient(ScramHash.Sha1, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
        client.CreateClientFirst();
        client.CreateClientFinal(B("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"));
        Assert.False(client.VerifyServerFinal(B("v=AmF9pqV8S7suAoZWja4dJRkFsKQ=")));
    }

    [Theory]
    [InlineData("e=invalid-proof")]
    [InlineData("v=")]
    [InlineData("v=!!!")]
    [InlineData("")]
    public void Client_rejects_bad_server_final(string message)
    {
        var client = new ScramClient(ScramHash.Sha1, "user", "pencil", "abc");
        client.CreateClientFirst();
        client.CreateClientFinal(B("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096"));
        Assert.False(client.VerifyServerFinal(B(message)));
    }

    [Theory]
    [InlineData("r=abcdef,s=QSXCR+Q6sek8bf92,i=4095")] // below minimum
    [InlineData("r=xbcdef,s=QSXCR+Q6sek8bf92,i=4096")] // nonce does not extend ours
    [InlineData("r=abc,s=QSXCR+Q6sek8bf92,i=4096")] // nonce not extended
    [InlineData("m=x,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096")]
    [InlineData("r=abcdef,s=,i=4096")]
    [InlineData("r=abcdef,s=QSXCR+Q6sek8bf92,i=-1")]
    [InlineData("r=abcdef,s=QSXCR+Q6sek8bf92,i=99999999999")]
    [InlineData("r=abcdef,s=QSXCR+Q6sek8bf92")]
    [InlineData("s=QSXCR+Q6sek8bf92,r=abcdef,i=4096")]
    public void Client_rejects_bad_server_first(string message)
    {
        var client = new ScramClient(ScramHash.Sha256, "user", "pencil", "abc");
        client.CreateClientFirst();
        Assert.Throws<FormatException>(() => client.CreateClientFinal(B(message)));
    }

    [Fact]
    public void Client_minimum_iterations_is_a_parameter()
    {
        var client = new ScramClient(ScramHash.Sha256, "user", "pencil", "abc");
        client.CreateClientFirst();
        Assert.NotEmpty(client.CreateClientFinal(B("r=abcdef,s=QSXCR+Q6sek8bf92,i=1"), minimumIterations: 1));
    }

    [Theory]
    [InlineData(ScramHash.Sha1)]
    [InlineData(ScramHash.Sha256)]
    public void Round_trip_succeeds(ScramHash hash)
    {
        var credential = ScramCredential.Create("pässwörd", hash, 4096);
        var (result, clientOk) = RoundTrip(hash, "us,er=", credential, "pässwörd");
        Assert.Equal(SaslFailure.None, result);
        Assert.True(clientOk);
    }

    [Theory]
    [InlineData(ScramHash.Sha1)]
    [InlineData(ScramHash.Sha256)]
    public void Round_trip_with_wrong_password_is_not_authorized(ScramHash hash)
    {
        var credential = ScramCredential.Create("secret", hash, 4096);
        Assert.Equal(SaslFailure.NotAuthorized, RoundTrip(hash, "user", credential, "Secret").Result);
    }

    [Theory]
    [InlineData(ScramHash.Sha1)]
    [InlineData(ScramHash.Sha256)]
    public void Unknown_user_fails_only_at_the_proof(ScramHash hash)
    {
        Assert.Equal(SaslFailure.NotAuthorized, RoundTrip(hash, "nobody", null, "secret").Result);
    }

    [Fact]
    public void Unknown_user_salt_is_deterministic_and_iterations_configurable()
    {
        string First(int iterations)
        {
            var server = new ScramServer(ScramHash.Sha256) { UnknownUserIterations = iterations };
            server.ReceiveClientFirst(B("n,,n=ghost,r=abc"), out _, out _);
            var msg = S(server.CreateServerFirst(null));
            return msg[msg.IndexOf(",s=", StringComparison.Ordinal)..];
        }
        Assert.Equal(First(10000), First(10000));
        Assert.EndsWith(",i=10000", First(10000), StringComparison.Ordinal);
    }

    [Fact]
    public void Authzid_and_escaped_username_are_decoded()
    {
        var server = new ScramServer(ScramHash.Sha256);
        Assert.Equal(SaslFailure.None, server.ReceiveClientFirst(B("n,a=admin=2C=3Dx@example.com,n=a=2Cb=3Dc,r=abc"), out var user, out var authzid));
        Assert.Equal("a,b=c", user);
        Assert.Equal("admin,=x@example.com", authzid);
    }

    [Fact]
    public void Client_sends_authzid()
    {
        var client = new ScramClient(ScramHash.Sha256, "user", "pencil", "abc", "admin@example.com");
        Assert.Equal("n,a=admin@example.com,n=user,r=abc", S(client.CreateClientFirst()));
        var credential = ScramCredential.Create("pencil", ScramHash.Sha256, 4096);
        var server = new ScramServer(ScramHash.Sha256);
        server.ReceiveClientFirst(B("n,a=admin@example.com,n=user,r=abc"), out _, out var authzid);
        Assert.Equal("admin@example.com", authzid);
        var final = client.CreateClientFinal(server.CreateServerFirst(credential));
        Assert.Equal(SaslFailure.None, server.ReceiveClientFinal(final, out var serverFinal));
        Assert.True(client.VerifyServerFinal(serverFinal));
    }

    [Fact]
    public void Username_is_saslprepped()
    {
        var server = new ScramServer(ScramHash.Sha1);
        Assert.Equal(SaslFailure.None, server.ReceiveClientFirst(B("y,,n=I\u00ADX,r=abc"), out var user, out _));
        Assert.Equal("IX", user);
    }

    [Theory]
    [InlineData("")]
    [InlineData("n")]
    [InlineData("n,")]
    [InlineData("n,,")]
    [InlineData("p=tls-unique,,n=user,r=abc")] // channel binding requested but not offered
    [InlineData("x,,n=user,r=abc")]
    [InlineData("n,b=foo,n=user,r=abc")]
    [InlineData("n,a=,n=user,r=abc")]
    [InlineData("n,a=x=41,n=user,r=abc")]
    [InlineData("n,,m=ext,n=user,r=abc")]
    [InlineData("n,,n=,r=abc")]
    [InlineData("n,,n=us=4er,r=abc")]
    [InlineData("n,,n=user=,r=abc")]
    [InlineData("n,,n=user")]
    [InlineData("n,,n=user,r=")]
    [InlineData("n,,n=user,r=a\u00e9")]
    [InlineData("n,,r=abc,n=user")]
    [InlineData("n,,n=user,r=abc,")]
    [InlineData("n,,n=user,r=abc,1=x")]
    [InlineData("n,,n=user,r=abc,x=")]
    [InlineData("n,,n=a\u0007b,r=abc")] // SASLprep prohibited
    [InlineData("n,,n=\u0627\u0031,r=abc")] // bidi violation
    public void Malformed_client_first_is_rejected(string message)
    {
        var server = new ScramServer(ScramHash.Sha256);
        Assert.Equal(SaslFailure.MalformedRequest, server.ReceiveClientFirst(B(message), out var user, out _));
        Assert.Equal(string.Empty, user);
        Assert.Throws<InvalidOperationException>(() => server.CreateServerFirst(null));
    }

    [Fact]
    public void Invalid_utf8_client_first_is_malformed()
    {
        var server = new ScramServer(ScramHash.Sha256);
        Assert.Equal(SaslFailure.MalformedRequest, server.ReceiveClientFirst([(byte)'n', (byte)',', (byte)',', (byte)'n', (byte)'=', 0xFF, (byte)',', (byte)'r', (byte)'=', (byte)'a'], out _, out _));
    }

    [Fact]
    public void Client_first_extensions_are_tolerated()
    {
        var server = new ScramServer(ScramHash.Sha256);
        Assert.Equal(SaslFailure.None, server.ReceiveClientFirst(B("n,,n=user,r=abc,x=foo,y=bar"), out _, out _));
    }

    private const string Nonce = "fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j";

    [Theory]
    [InlineData("")]
    [InlineData("c=biws,r=" + Nonce)] // no proof
    [InlineData("c=biws,r=" + Nonce + ",p=")]
    [InlineData("c=biws,r=" + Nonce + ",p=!!!!")]
    [InlineData("c=biws,r=" + Nonce + ",p=dGVzdA==")] // wrong length
    [InlineData("c=eSws,r=" + Nonce + ",p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")] // c= is "y,," but client sent "n,,"
    [InlineData("c=biws,r=fyko+d2lbbFgONRv9qkxdawL,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")] // nonce mismatch
    [InlineData("r=" + Nonce + ",c=biws,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")]
    [InlineData("c=biws,r=" + Nonce + ",p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=,x=y")] // proof not last
    [InlineData("c=biws,r=" + Nonce + ",1=2,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")]
    [InlineData("c=biws")]
    public void Malformed_client_final_is_rejected(string message)
    {
        var server = Rfc5802Server();
        Assert.Equal(SaslFailure.MalformedRequest, server.ReceiveClientFinal(B(message), out var final));
        Assert.Empty(final);
        Assert.Throws<InvalidOperationException>(() => server.ReceiveClientFinal(B(message), out _));
    }

    [Fact]
    public void Client_final_extension_before_proof_is_tolerated_but_changes_the_auth_message()
    {
        var server = Rfc5802Server();
        Assert.Equal(SaslFailure.NotAuthorized, server.ReceiveClientFinal(B("c=biws,r=" + Nonce + ",x=ext,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="), out _));
    }

    [Fact]
    public void Wrong_proof_is_not_authorized()
    {
        var server = Rfc5802Server();
        Assert.Equal(SaslFailure.NotAuthorized, server.ReceiveClientFinal(B("c=biws,r=" + Nonce + ",p=A0X8v3Bz2T0CJGbJQyF0X+HI4Ts="), out var final));
        Assert.Empty(final);
    }

    [Fact]
    public void Out_of_order_calls_throw()
    {
        var server = new ScramServer(ScramHash.Sha1);
        Assert.Throws<InvalidOperationException>(() => server.CreateServerFirst(null));
        Assert.Throws<InvalidOperationException>(() => server.ReceiveClientFinal(B("c=biws"), out _));
        server.ReceiveClientFirst(B("n,,n=user,r=abc"), out _, out _);
        Assert.Throws<InvalidOperationException>(() => server.ReceiveClientFirst(B("n,,n=user,r=abc"), out _, out _));
        Assert.Throws<InvalidOperationException>(() => server.ReceiveClientFinal(B("c=biws"), out _));

        var client = new ScramClient(ScramHash.Sha1, "user", "pencil");
        Assert.Throws<InvalidOperationException>(() => client.CreateClientFinal(B("r=x,s=QQ==,i=4096")));
        Assert.Throws<InvalidOperationException>(() => client.VerifyServerFinal(B("v=QQ==")));
        client.CreateClientFirst();
        Assert.Throws<InvalidOperationException>(() => client.CreateClientFirst());
    }

    [Fact]
    public void Credential_for_another_hash_is_rejected()
    {
        var server = new ScramServer(ScramHash.Sha256);
        server.ReceiveClientFirst(B("n,,n=user,r=abc"), out _, out _);
        Assert.Throws<ArgumentException>(() => server.CreateServerFirst(ScramCredential.Create("x", ScramHash.Sha1, 1)));
    }

    [Fact]
    public void Mechanism_names()
    {
        Assert.Equal("SCRAM-SHA-1", new ScramServer(ScramHash.Sha1).Mechanism);
        Assert.Equal("SCRAM-SHA-256", new ScramServer(ScramHash.Sha256).Mechanism);
        Assert.Equal("SCRAM-SHA-256", new ScramClient(ScramHash.Sha256, "u", "p").Mechanism);
    }

    [Fact]
    public void Server_nonce_is_random_printable_and_extends_the_client_nonce()
    {
        var server = new ScramServer(ScramHash.Sha256);
        server.ReceiveClientFirst(B("n,,n=user,r=abc"), out _, out _);
        var first = S(server.CreateServerFirst(ScramCredential.Create("p", ScramHash.Sha256, 4096)));
        var nonce = first.Split(',')[0][2..];
        Assert.StartsWith("abc", nonce, StringComparison.Ordinal);
        Assert.Equal(3 + 32, nonce.Length);
        Assert.DoesNotContain(nonce, c => c < 0x21 || c > 0x7E || c == ',');
    }

    [Fact]
    public void Client_rejects_bad_nonce_and_prohibited_password()
    {
        Assert.Throws<ArgumentException>(() => new ScramClient(ScramHash.Sha1, "user", "pencil", "a,b"));
        Assert.Throws<ArgumentException>(() => new ScramClient(ScramHash.Sha1, "user", "pen\u0007cil"));
        Assert.Throws<ArgumentException>(() => new ScramClient(ScramHash.Sha1, "", "pencil"));
    }

    private static ScramServer Rfc5802Server()
    {
        var server = new ScramServer(ScramHash.Sha1, "3rfcNHYJY1ZVvWVs7j");
        server.ReceiveClientFirst(B("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"), out _, out _);
        server.CreateServerFirst(ScramCredential.Create("pencil", ScramHash.Sha1, 4096, Convert.FromBase64String("QSXCR+Q6sek8bf92")));
        return server;
    }

    private static (SaslFailure Result, bool ClientOk) RoundTrip(ScramHash hash, string username, ScramCredential? credential, string password)
    {
        var client = new ScramClient(hash, username, password);
        var server = new ScramServer(hash);
        var r = server.ReceiveClientFirst(client.CreateClientFirst(), out var user, out _);
        Assert.Equal(SaslFailure.None, r);
        Assert.Equal(username, user);
        var final = client.CreateClientFinal(server.CreateServerFirst(credential));
        var result = server.ReceiveClientFinal(final, out var serverFinal);
        return (result, result == SaslFailure.None && client.VerifyServerFinal(serverFinal));
    }
}
