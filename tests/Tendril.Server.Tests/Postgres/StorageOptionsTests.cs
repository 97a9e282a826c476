using Tendril.Server.Configuration;

namespace Tendril.Server.Tests.Postgres;

/// <summary><c>Tendril:Storage</c>: the provider and its connection string are validated and apply only at restart.</summary>
public sealed class StorageOptionsTests
{
    [Fact]
    public void Postgres_needs_a_connection_string_and_unknown_providers_are_refused()
    {
        var options = new TendrilOptions();
        options.Validate(); // sqlite by default
        options.Storage.Provider = "postgres";
        var e = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains("PostgresConnectionString", e.Message, StringComparison.Ordinal);
        options.Storage.PostgresConnectionString = "Host=db;Database=tendril;Username=tendril";
        options.Validate();
        options.Storage.Provider = "mysql";
        Assert.Contains("mysql", Assert.Throws<InvalidOperationException>(options.Validate).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("provider")]
    [InlineData("connection")]
    public void A_storage_change_is_reported_as_restart_required(string what)
    {
        var old = new TendrilOptions();
        old.Storage.Provider = "postgres";
        old.Storage.PostgresConnectionString = "Host=a;Database=t";
        var now = new TendrilOptions();
        now.Storage.Provider = what == "provider" ? "sqlite" : "postgres";
        now.Storage.PostgresConnectionString = what == "connection" ? "Host=b;Database=t" : old.Storage.PostgresConnectionString;
        Assert.Contains("Storage", ServerSettings.RestartRequired(old, now));
        Assert.DoesNotContain("Storage", ServerSettings.RestartRequired(old, old));
    }
}
