using Tendril.Tests.Support;

namespace Tendril.Storage.Tests;

public abstract class AccountDataStoreTests : StorageTestBase
{
    private const string D = "example.org";

    protected override async Task SeedAsync()
    {
        await Storage.Accounts.CreateAsync(Accounts.Make("juliet"));
        await Storage.Accounts.CreateAsync(Accounts.Make("romeo"));
    }

    [Fact]
    public async Task Values_round_trip_per_account_and_store()
    {
        var data = Storage.AccountData;
        Assert.Null(await data.GetAsync(D, "juliet", "vcard", ""));
        Assert.True(await data.PutAsync(D, "juliet", "vcard", "", "<vCard/>"));
        Assert.True(await data.PutAsync(D, "juliet", "vcard", "", "<vCard>2</vCard>"));
        Assert.True(await data.SetAsync(D, "juliet", "blocklist", [new("b@x", ""), new("a@x", ""), new("c@x", "")]));
        Assert.Equal("<vCard>2</vCard>", await data.GetAsync(D, "juliet", "vcard", ""));
        Assert.Null(await data.GetAsync(D, "romeo", "vcard", ""));
        Assert.Equal(["a@x", "b@x", "c@x"], (await data.ListAsync(D, "juliet", "blocklist")).Select(p => p.Key));
        Assert.Equal(3, await data.CountAsync(D, "juliet", "blocklist"));
        Assert.Equal(0, await data.CountAsync(D, "romeo", "blocklist"));

        Assert.Equal(1, await data.DeleteAsync(D, "juliet", "blocklist", ["b@x", "zzz"]));
        Assert.Equal(["a@x", "c@x"], (await data.ListAsync(D, "juliet", "blocklist")).Select(p => p.Key));
        Assert.Equal(2, await data.ClearAsync(D, "juliet", "blocklist"));
        Assert.Empty(await data.ListAsync(D, "juliet", "blocklist"));
        Assert.Equal("<vCard>2</vCard>", await data.GetAsync(D, "juliet", "vcard", ""));
    }

    [Fact]
    public async Task Nothing_is_stored_for_a_missing_account_and_deleting_an_account_deletes_its_data()
    {
        var data = Storage.AccountData;
        Assert.False(await data.PutAsync(D, "nobody", "vcard", "", "<vCard/>"));
        Assert.Null(await data.GetAsync(D, "nobody", "vcard", ""));

        Assert.True(await data.PutAsync(D, "romeo", "private", "a:b", "<x xmlns='a:b'/>"));
        Assert.True(await Storage.Accounts.DeleteAsync(D, "romeo"));
        Assert.Empty(await data.ListAsync(D, "romeo", "private"));
        await Storage.Accounts.CreateAsync(Accounts.Make("romeo"));
        Assert.Null(await data.GetAsync(D, "romeo", "private", "a:b"));
    }
}

public sealed class SqliteAccountDataStoreTests : AccountDataStoreTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => Task.FromResult<IStorageBackend>(new SqliteBackend());
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresAccountDataStoreTests(PostgresFixture postgres) : AccountDataStoreTests
{
    protected override Task<IStorageBackend> CreateBackendAsync() => PostgresBackend.CreateAsync(postgres.Server);
}
