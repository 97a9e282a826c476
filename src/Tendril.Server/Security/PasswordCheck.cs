using System.Collections.Concurrent;
using Tendril.Protocol.Sasl;
using Tendril.Storage;

namespace Tendril.Server.Security;

/// <summary>
/// A plain password against an account's stored SCRAM-SHA-256 credential, in the same time whether the account exists
/// or not (issue 19: an unknown user answered in 12 ms, a known one with a wrong password in 20 ms — a user oracle):
/// an unknown account's check runs the same PBKDF2 against a throw-away credential.
/// </summary>
public static class PasswordCheck
{
    private static readonly ConcurrentDictionary<int, ScramCredential> s_decoys = new();

    public static bool Verify(Account? account, string password, int iterations)
    {
        if (account is not null) return account.Sha256.Verify(password);
        var decoy = s_decoys.GetOrAdd(iterations, static n => ScramCredential.Create(Guid.NewGuid().ToString("N"), ScramHash.Sha256, n));
        decoy.Verify(password);
        return false;
    }
}
