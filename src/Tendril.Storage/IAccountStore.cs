using Tendril.Protocol.Sasl;

namespace Tendril.Storage;

/// <summary>A user account: the bare JID's parts and the SCRAM credentials derived from the password.</summary>
public sealed record Account(string Username, string Domain, ScramCredential Sha1, ScramCredential Sha256, DateTimeOffset CreatedAt)
{
    public ScramCredential For(ScramHash hash) => hash == ScramHash.Sha1 ? Sha1 : Sha256;
}

/// <summary>Accounts, keyed by (domain, normalized username). All calls are asynchronous and never block the caller's thread.</summary>
public interface IAccountStore
{
    ValueTask<Account?> FindAsync(string domain, string username, CancellationToken cancellationToken = default);

    /// <summary>Creates the account; false when it already exists.</summary>
    ValueTask<bool> CreateAsync(Account account, CancellationToken cancellationToken = default);

    /// <summary>Replaces the credentials; false when the account does not exist.</summary>
    ValueTask<bool> UpdateCredentialsAsync(string domain, string username, ScramCredential sha1, ScramCredential sha256, CancellationToken cancellationToken = default);

    /// <summary>Deletes the account and everything stored for it; false when it did not exist.</summary>
    ValueTask<bool> DeleteAsync(string domain, string username, CancellationToken cancellationToken = default);

    /// <summary>Usernames of a domain, sorted.</summary>
    ValueTask<IReadOnlyList<string>> ListAsync(string domain, CancellationToken cancellationToken = default);
}
