using System.Text;
using Tendril.Protocol.Sasl;

namespace Tendril.Protocol.Tests.Sasl;

public class ScramCredentialTests
{
    [Theory]
    [InlineData(ScramHash.Sha1, 20)]
    [InlineData(ScramHash.Sha256, 32)]
    public void Create_and_verify(ScramHash hash, int length)
    {
        var credential = ScramCredential.Create("pencil", hash, 4096);
        Assert.Equal(16, credential.Salt.Length);
        Assert.Equal(length, credential.StoredKey.Length);
        Assert.Equal(length, credential.ServerKey.Length);
        Assert.Equal(4096, credential.Iterations);
        Assert.True(credential.Verify("pencil"));
        Assert.False(credential.Verify("Pencil"));
        Assert.False(credential.Verify(""));
        Assert.False(credential.Verify("pen\u0007cil"));
    }

    [Fact]
    public void Verify_applies_saslprep()
    {
        var credential = ScramCredential.Create("I\u00ADX", ScramHash.Sha256, 1);
        Assert.True(credential.Verify("IX"));
        Assert.True(credential.Verify("\u2168"));
    }

    [Fact]
    public void Random_salts_differ_and_given_salt_is_copied()
    {
        Assert.NotEqual(ScramCredential.Create("p", ScramHash.Sha1, 1).Salt, ScramCredential.Create("p", ScramHash.Sha1, 1).Salt);
        var salt = new byte[] { 1, 2, 3 };
        var credential = ScramCredential.Create("p", ScramHash.Sha1, 1, salt);
        salt[0] = 9;
        Assert.Equal(new byte[] { 1, 2, 3 }, credential.Salt);
    }

    [Fact]
    public void Same_inputs_give_same_keys()
    {
        // The keys' values are checked by the RFC 5802 / RFC 7677 exchange vectors in ScramTests.
        var salt = Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ==");
        var a = ScramCredential.Create("pencil", ScramHash.Sha256, 4096, salt);
        var b = ScramCredential.Create("pencil", ScramHash.Sha256, 4096, salt);
        Assert.Equal(a.StoredKey, b.StoredKey);
        Assert.Equal(a.ServerKey, b.ServerKey);
    }

    [Fact]
    public void Create_rejects_bad_arguments()
    {
        Assert.Throws<ArgumentException>(() => ScramCredential.Create("a\u0007", ScramHash.Sha1, 4096));
        Assert.Throws<ArgumentOutOfRangeException>(() => ScramCredential.Create("a", ScramHash.Sha1, 0));
        Assert.Throws<ArgumentException>(() => ScramCredential.Create("a", ScramHash.Sha1, 1, []));
    }
}

public class PlainMechanismTests
{
    [Theory]
    [InlineData("\0tim\0tanstaaftanstaaf", null, "tim", "tanstaaftanstaaf")] // RFC 4616 §4
    [InlineData("Ursel\0Kurt\0xipj3plmq", "Ursel", "Kurt", "xipj3plmq")]
    [InlineData("\0I\u00ADX\0p\u00E4ss", null, "IX", "p\u00E4ss")]
    [InlineData("\0user\0pass word", null, "user", "pass word")]
    public void Parses(string message, string? authzid, string username, string password)
    {
        Assert.Equal(SaslFailure.None, PlainMechanism.Parse(Encoding.UTF8.GetBytes(message), out var z, out var u, out var p));
        Assert.Equal(authzid, z);
        Assert.Equal(username, u);
        Assert.Equal(password, p);
    }

    [Theory]
    [InlineData("")]
    [InlineData("user")]
    [InlineData("\0user")]
    [InlineData("\0user\0")]
    [InlineData("\0\0pass")]
    [InlineData("\0user\0pa\0ss")]
    [InlineData("\0\0\0")]
    [InlineData("\0us\u0007er\0pass")]
    public void Rejects(string message)
    {
        Assert.Equal(SaslFailure.MalformedRequest, PlainMechanism.Parse(Encoding.UTF8.GetBytes(message), out var z, out var u, out var p));
        Assert.Null(z);
        Assert.Equal("", u);
        Assert.Equal("", p);
    }

    [Fact]
    public void Rejects_invalid_utf8_and_overlong_fields()
    {
        Assert.Equal(SaslFailure.MalformedRequest, PlainMechanism.Parse([0, (byte)'u', 0, 0xC3], out _, out _, out _));
        Assert.Equal(SaslFailure.MalformedRequest, PlainMechanism.Parse(Encoding.UTF8.GetBytes("\0" + new string('u', 256) + "\0p"), out _, out _, out _));
        Assert.Equal(SaslFailure.MalformedRequest, PlainMechanism.Parse(Encoding.UTF8.GetBytes("\0u\0" + new string('p', 256)), out _, out _, out _));
        Assert.Equal(SaslFailure.None, PlainMechanism.Parse(Encoding.UTF8.GetBytes("\0" + new string('u', 255) + "\0" + new string('p', 255)), out _, out _, out _));
    }

    [Fact]
    public void Create_round_trips()
    {
        Assert.Equal("\0user\0pencil"u8.ToArray(), PlainMechanism.Create("user", "pencil"));
        Assert.Equal(SaslFailure.None, PlainMechanism.Parse(PlainMechanism.Create("us\u00E9r", "p\u00E4ss", "admin@example.com"), out var z, out var u, out var p));
        Assert.Equal(("admin@example.com", "us\u00E9r", "p\u00E4ss"), (z, u, p));
        Assert.Throws<ArgumentException>(() => PlainMechanism.Create("", "x"));
        Assert.Throws<ArgumentException>(() => PlainMechanism.Create("u", "a\0b"));
    }
}
