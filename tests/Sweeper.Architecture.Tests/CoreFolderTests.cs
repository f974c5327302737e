namespace Sweeper.Architecture.Tests;

/// <summary>
/// Sweeper.Core's top-level folders (Model, Spec, Search, Scheduling, Stability, Trials, Sweep, Reporting, Telemetry)
/// depend on each other without cycles, and Model, the shared vocabulary, depends on none of them. The graph is
/// read from the compiled assembly (signatures and method bodies), see <see cref="FolderGraph"/>.
/// </summary>
public sealed class CoreFolderTests
{
    private static readonly Lazy<FolderGraph> Core = new(() => FolderGraph.Build(typeof(Sweeper.Core.Model.TrialId).Assembly, "Sweeper.Core"));

    [Fact]
    public void CoreFolders_Dependencies_NoCycles()
    {
        var report = Core.Value.DescribeCycles();

        Assert.True(report.Length == 0, report);
    }

    [Fact]
    public void Model_Dependencies_NoOtherCoreFolder()
    {
        var edges = Core.Value.Edges.Where(e => e.From == "Model").ToList();

        Assert.True(edges.Count == 0, "Model is the leaf of Sweeper.Core, but:" + Environment.NewLine +
            string.Join(Environment.NewLine, edges.SelectMany(e => e.Uses.Select(u => $"  Model -> {e.To} via {u}"))));
    }

    [Fact]
    public void CoreFolders_Scanned_TheDesignFoldersAndEdgesIntoModel()
    {
        // The scan sees the assembly: the folders are there, and the folders that name metrics and ids use Model.
        var graph = Core.Value;

        Assert.Superset(new HashSet<string> { "Model", "Spec", "Search", "Scheduling", "Stability", "Reporting" }, graph.Folders.ToHashSet());
        Assert.NotEmpty(graph.UsesOf("Spec", "Model"));
    }
}
