using Tendril.Storage.Sqlite;

namespace Tendril.Storage.Tests;

public sealed class SqliteSmokeTests
{
    [Fact]
    public async Task Native_sqlite_library_loads()
    {
        using var dir = new TempDirectory();
        await using var storage = new SqliteStorage(dir.File("t.db"));
        await storage.InitializeAsync();
        var version = await storage.ReadAsync("version", c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT sqlite_version();";
            return (string)cmd.ExecuteScalar()!;
        }, default);
        Assert.StartsWith("3.", version, StringComparison.Ordinal);
    }
}
