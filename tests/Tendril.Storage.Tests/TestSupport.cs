using Tendril.Protocol.Sasl;

namespace Tendril.Storage.Tests;

/// <summary>A fresh temporary folder, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tendril-sqlite-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class Accounts
{
    public static ScramCredential Credential(ScramHash hash, byte seed)
    {
        var length = hash == ScramHash.Sha1 ? 20 : 32;
        return new ScramCredential(
            hash,
            Enumerable.Repeat(seed, 16).ToArray(),
            4096 + seed,
            Enumerable.Repeat((byte)(seed + 1), length).ToArray(),
            Enumerable.Repeat((byte)(seed + 2), length).ToArray());
    }

    /// <summary>Millisecond precision: what the store keeps.</summary>
    public static readonly DateTimeOffset CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123);

    public static Account Make(string username, string domain = "example.org", byte seed = 1)
        => new(username, domain, Credential(ScramHash.Sha1, seed), Credential(ScramHash.Sha256, seed), CreatedAt);

    public static void AssertSame(ScramCredential expected, ScramCredential actual)
    {
        Assert.Equal(expected.Hash, actual.Hash);
        Assert.Equal(expected.Salt, actual.Salt);
        Assert.Equal(expected.Iterations, actual.Iterations);
        Assert.Equal(expected.StoredKey, actual.StoredKey);
        Assert.Equal(expected.ServerKey, actual.ServerKey);
    }

    public static void AssertSame(Account expected, Account? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Username, actual.Username);
        Assert.Equal(expected.Domain, actual.Domain);
        Assert.Equal(expected.CreatedAt, actual.CreatedAt);
        AssertSame(expected.Sha1, actual.Sha1);
        AssertSame(expected.Sha256, actual.Sha256);
    }
}
