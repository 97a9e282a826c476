namespace Tendril.Storage.Tests;

/// <summary>
/// What both backends must show after migrating a database at schema 6 (before per-item roster versions and removals)
/// in which juliet@example.org's roster is at version 3 with romeo ("Romeo"): the items and version kept, version 3
/// current, anything older unknown (a full push), and new changes tracked from there.
/// </summary>
internal static class RosterDeltaMigration
{
    public static async Task AssertKeptAsync(IStorage storage)
    {
        var roster = await storage.Rosters.GetAsync("example.org", "juliet");
        Assert.Equal(3, roster.Version);
        Assert.Equal("Romeo", Assert.Single(roster.Items).Name);
        Assert.Empty((await storage.Rosters.GetChangesSinceAsync("example.org", "juliet", 3))!.Changes); // current
        Assert.Null(await storage.Rosters.GetChangesSinceAsync("example.org", "juliet", 2)); // what changed then is not known
        Assert.Equal(4, await storage.Rosters.SetItemAsync("example.org", "juliet", RosterItem.Create("nurse@example.org")));
        Assert.Equal("nurse@example.org", Assert.Single((await storage.Rosters.GetChangesSinceAsync("example.org", "juliet", 3))!.Changes).Jid);
    }
}
