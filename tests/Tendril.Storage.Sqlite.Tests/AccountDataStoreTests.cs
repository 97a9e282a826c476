namespace Tendril.Storage.Sqlite.Tests;

public sealed class AccountDataStoreTests : IAsyncLifetime
{
    private const string D = "example.org";
    private readonly TempDirectory _dir = new();
    private SqliteStorage _storage = null!;

    public async Task InitializeAsync()
    {
        _storage = new SqliteStorage(_dir.File("tendril.db"));
        await _storage.InitializeAsync();
        await _storage.Accounts.CreateAsync(Accounts.Make("juliet"));
        await _storage.Accounts.CreateAsync(Accounts.Make("romeo"));
    }

    public async Task DisposeAsync()
    {
        await _storage.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Values_round_trip_per_account_and_store()
    {
        var data = _storage.AccountData;
        Assert.Null(await data.GetAsync(D, "juliet", "vcard", ""));
        Assert.True(await data.PutAsync(D, "juliet", "vcard", "", "<vCard/>"));
        Assert.True(await data.PutAsync(D, "juliet", "vcard", "", "<vCard>2</vCard>"));
        Assert.True(await data.SetAsync(D, "juliet", "blocklist", [new("b@x", ""), new("a@x", ""), new("c@x", "")]));
        Assert.Equal("<vCard>2</vCard>", await data.GetAsync(D, "juliet", "vcard", ""));
        Assert.Null(await data.GetAsync(D, "romeo", "vcard", ""));
        Assert.Equal(["a@x", "b@x", "c@x"], (await data.ListAsync(D, "juliet", "blocklist")).Select(p => p.Key));

        Assert.Equal(1, await data.DeleteAsync(D, "juliet", "blocklist", ["b@x", "zzz"]));
        Assert.Equal(["a@x", "c@x"], (await data.ListAsync(D, "juliet", "blocklist")).Select(p => p.Key));
        Assert.Equal(2, await data.ClearAsync(D, "juliet", "blocklist"));
        Assert.Empty(await data.ListAsync(D, "juliet", "blocklist"));
        Assert.Equal("<vCard>2</vCard>", await data.GetAsync(D, "juliet", "vcard", ""));
    }

    [Fact]
    public async Task Nothing_is_stored_for_a_missing_account_and_deleting_an_account_deletes_its_data()
    {
        var data = _storage.AccountData;
        Assert.False(await data.PutAsync(D, "nobody", "vcard", "", "<vCard/>"));
        Assert.Null(await data.GetAsync(D, "nobody", "vcard", ""));

        Assert.True(await data.PutAsync(D, "romeo", "private", "a:b", "<x xmlns='a:b'/>"));
        Assert.True(await _storage.Accounts.DeleteAsync(D, "romeo"));
        Assert.Empty(await data.ListAsync(D, "romeo", "private"));
        await _storage.Accounts.CreateAsync(Accounts.Make("romeo"));
        Assert.Null(await data.GetAsync(D, "romeo", "private", "a:b"));
    }
}
