namespace Tendril.Tests.Support;

/// <summary>Where the checkout is, for tests that run files of the repository (browser scripts, the demo).</summary>
public static class RepositoryPaths
{
    /// <summary>The folder holding Tendril.slnx, found upwards from the test assembly.</summary>
    public static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Tendril.slnx"))) return dir.FullName;
            }
            throw new InvalidOperationException("Tendril.slnx not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>A path below the repository root.</summary>
    public static string Of(params string[] parts) => Path.Combine([Root, .. parts]);
}
