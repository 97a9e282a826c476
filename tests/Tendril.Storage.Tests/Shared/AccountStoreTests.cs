using Tendril.Protocol.Sasl;
using Tendril.Tests.Support;

namespace Tendril.Storage.Tests;

public abstract class AccountStoreTests : StorageTestBase
{
    [Fact]
    public async Task Create_then_find_returns_the_same_account()
    {
        var account = Accounts.Make("juliet");
        Assert.True(await Storage.Accounts.CreateAsync(account));
        Accounts.AssertSame(account, await Storage.Accounts.FindAsync("example.org", "juliet"));
    }

    [Fact]
    public async Task Find_missing_returns_null()
    {
        Assert.Null(await Storage.Accounts.FindAsync("example.org", "nobody"));
        await Storage.Accounts.CreateAsync(Accounts.Make("juliet", "example.org"));
        Assert.Null(await Storage.Accounts.FindAsync("example.net", "juliet"));
    }

    [Fact]
    public async Task Duplicate_create_returns_false_and_keeps_the_original()
    {
        var original = Accounts.Make("romeo", seed: 1);
        Assert.True(await Storage.Accounts.CreateAsync(original));
        Assert.False(await Storage.Accounts.CreateAsync(Accounts.Make("romeo", seed: 9)));
        Accounts.AssertSame(original, await Storage.Accounts.FindAsync("example.org", "romeo"));
    }

    [Fact]
    public async Task Same_username_on_two_domains_are_distinct_accounts()
    {
        Assert.True(await Storage.Accounts.CreateAsync(Accounts.Make("juliet", "a.example")));
        Assert.True(await Storage.Accounts.CreateAsync(Accounts.Make("juliet", "b.example")));
        Assert.True(await Storage.Accounts.DeleteAsync("a.example", "juliet"));
        Assert.NotNull(await Storage.Accounts.FindAsync("b.example", "juliet"));
    }

    [Fact]
    public async Task UpdateCredentials_replaces_both_credentials()
    {
        var account = Accounts.Make("juliet", seed: 1);
        await Storage.Accounts.CreateAsync(account);
        var sha1 = Accounts.Credential(ScramHash.Sha1, 50);
        var sha256 = Accounts.Credential(ScramHash.Sha256, 60);
        Assert.True(await Storage.Accounts.UpdateCredentialsAsync("example.org", "juliet", sha1, sha256));
        var found = await Storage.Accounts.FindAsync("example.org", "juliet");
        Assert.NotNull(found);
        Accounts.AssertSame(sha1, found.Sha1);
        Accounts.AssertSame(sha256, found.Sha256);
        Assert.Equal(account.CreatedAt, found.CreatedAt);
    }

    [Fact]
    public async Task UpdateCredentials_of_missing_account_returns_false()
    {
        Assert.False(await Storage.Accounts.UpdateCredentialsAsync("example.org", "ghost",
            Accounts.Credential(ScramHash.Sha1, 1), Accounts.Credential(ScramHash.Sha256, 1)));
        Assert.Null(await Storage.Accounts.FindAsync("example.org", "ghost"));
    }

    [Fact]
    public async Task Credentials_with_the_wrong_hash_are_rejected()
    {
        var sha256 = Accounts.Credential(ScramHash.Sha256, 1);
        await Assert.ThrowsAsync<ArgumentException>(async () =>
            await Storage.Accounts.CreateAsync(new Account("x", "example.org", sha256, sha256, Accounts.CreatedAt)));
    }

    [Fact]
    public async Task Delete_removes_and_reports_missing()
    {
        await Storage.Accounts.CreateAsync(Accounts.Make("juliet"));
        Assert.True(await Storage.Accounts.DeleteAsync("example.org", "juliet"));
        Assert.Null(await Storage.Accounts.FindAsync("example.org", "juliet"));
        Assert.False(await Storage.Accounts.DeleteAsync("example.org", "juliet"));
    }

    [Fact]
    public async Task List_is_sorted_and_per_domain()
    {
        foreach (var name in new[] { "mercutio", "benvolio", "romeo", "Zed", "juliet" })
            await Storage.Accounts.CreateAsync(Accounts.Make(name));
        await Storage.Accounts.CreateAsync(Accounts.Make("tybalt", "capulet.example"));
        Assert.Equal(["Zed", "benvolio", "juliet", "mercutio", "romeo"], await Storage.Accounts.ListAsync("example.org"));
        Assert.Equal(["tybalt"], await Storage.Accounts.ListAsync("capulet.example"));
        Assert.Empty(await Storage.Accounts.ListAsync("nobody.example"));
    }

    [Fact]
    public async Task Non_ascii_usernames_round_trip()
    {
        var account = Accounts.Make("джульетта");
        Assert.True(await Storage.Accounts.CreateAsync(account));
        Accounts.AssertSame(account, await Storage.Accounts.FindAsync("example.org", "джульетта"));
    }
}

public sealed class SqliteAccountStoreTests : AccountStoreTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => Task.FromResult<IStorageBackend>(new SqliteBackend());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresAccountStoreTests(PostgresFixture postgres) : AccountStoreTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => PostgresBackend.CreateAsync(postgres.Server);
}
