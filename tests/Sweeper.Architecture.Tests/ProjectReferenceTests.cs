using System.Reflection;
using System.Runtime.InteropServices;

namespace Sweeper.Architecture.Tests;

/// <summary>
/// The arrows between the projects (docs: DESIGN.md, "Dependencies point one way"): Core is pure (YamlDotNet and the
/// BCL), Quantization is a leaf, Training → Core, Quantization; Cluster → Core only and never TorchSharp; only the Cli
/// references the Benchmarks; nothing references the Cli. Checked twice: on the compiled assemblies (what the code
/// really uses, through any assembly of ours) and on the package graph (what a project drags in, used or not).
/// </summary>
public sealed class ProjectReferenceTests
{
    public static TheoryData<string, string> ForbiddenReferences => new()
    {
        { "Sweeper.Cluster", "TorchSharp" },
        { "Sweeper.Cluster", "libtorch" },
        { "Sweeper.Cluster", "Sweeper.Training" },
        { "Sweeper.Cluster", "Sweeper.Quantization" },
        { "Sweeper.Core", "Akka" },
        { "Sweeper.Core", "TorchSharp" },
        { "Sweeper.Core", "libtorch" },
        { "Sweeper.Core", "OpenTelemetry" },
        { "Sweeper.Core", "Sweeper.Quantization" },
        { "Sweeper.Core", "Sweeper.Training" },
        { "Sweeper.Core", "Sweeper.Cluster" },
        { "Sweeper.Quantization", "Sweeper.Core" },
        { "Sweeper.Quantization", "Sweeper.Training" },
        { "Sweeper.Quantization", "Sweeper.Cluster" },
        { "Sweeper.Quantization", "Akka" },
        { "Sweeper.Training", "Sweeper.Cluster" },
        { "Sweeper.Training", "Akka" },
        { "Sweeper.Core", "Sweeper.Benchmarks" },
        { "Sweeper.Quantization", "Sweeper.Benchmarks" },
        { "Sweeper.Training", "Sweeper.Benchmarks" },
        { "Sweeper.Cluster", "Sweeper.Benchmarks" },
        // The Cli's assembly (and library) name is "sweeper".
        { "Sweeper.Core", "sweeper" },
        { "Sweeper.Quantization", "sweeper" },
        { "Sweeper.Training", "sweeper" },
        { "Sweeper.Cluster", "sweeper" },
        { "Sweeper.Benchmarks", "sweeper" },
    };

    [Theory]
    [MemberData(nameof(ForbiddenReferences))]
    public void CompiledAssembly_ForbiddenReference_NotReachable(string project, string forbidden)
    {
        var offending = DependencyGraphs.AssemblyClosure(project).Where(kv => DependencyGraphs.Matches(kv.Key, forbidden)).Select(kv => kv.Value).Order().ToList();

        Assert.True(offending.Count == 0, $"{project} must not reference {forbidden}, but: {string.Join("; ", offending)}");
    }

    [Theory]
    [MemberData(nameof(ForbiddenReferences))]
    public void PackageGraph_ForbiddenDependency_NotReachable(string project, string forbidden)
    {
        var offending = DependencyGraphs.PackageClosure(project).Where(kv => DependencyGraphs.Matches(kv.Key, forbidden)).Select(kv => kv.Value).Order().ToList();

        Assert.True(offending.Count == 0, $"{project} must not depend on {forbidden}, but: {string.Join("; ", offending)}");
    }

    [Fact]
    public void CoreAssembly_References_OnlyYamlDotNetAndTheBcl()
    {
        var runtime = RuntimeEnvironment.GetRuntimeDirectory();
        var others = typeof(Sweeper.Core.Model.TrialId).Assembly.GetReferencedAssemblies()
            .Where(r => r.Name != "YamlDotNet")
            .Where(r => !Path.GetDirectoryName(Assembly.Load(r).Location)!.TrimEnd(Path.DirectorySeparatorChar)
                .Equals(runtime.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
            .Select(r => r.Name)
            .ToList();

        Assert.True(others.Count == 0, $"Sweeper.Core references more than YamlDotNet and the BCL: {string.Join(", ", others)}");
    }

    [Theory]
    [InlineData("Sweeper.Cluster", "Sweeper.Core")]
    [InlineData("Sweeper.Training", "TorchSharp")]
    [InlineData("Sweeper.Benchmarks", "Sweeper.Cluster")]
    [InlineData("sweeper", "Sweeper.Benchmarks")]
    public void CompiledAssembly_KnownReference_Reachable(string project, string expected)
    {
        // The closure finds what is there: the forbidden-reference tests above cannot pass by finding nothing.
        Assert.Contains(expected, DependencyGraphs.AssemblyClosure(project).Keys);
    }

    [Theory]
    [InlineData("Sweeper.Cluster", "Akka")]
    [InlineData("Sweeper.Core", "YamlDotNet")]
    [InlineData("Sweeper.Training", "libtorch-cpu-linux-x64")]
    [InlineData("sweeper", "Sweeper.Benchmarks")]
    public void PackageGraph_KnownDependency_Reachable(string project, string expected)
    {
        Assert.Contains(expected, DependencyGraphs.PackageClosure(project).Keys);
    }
}
