namespace Sweeper.Tests.Shared;

/// <summary>The repository the tests run from (one source linked into the test projects that read its files).</summary>
internal static class Repository
{
    /// <summary>The folder holding Sweeper.sln, found by walking up from the test's output folder.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>A path inside the repository, e.g. <c>Path("configs", "quickstart.yaml")</c>.</summary>
    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Sweeper.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No Sweeper.sln above {AppContext.BaseDirectory}.");
    }
}
