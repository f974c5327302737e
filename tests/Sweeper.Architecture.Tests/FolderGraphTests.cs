using Sweeper.Architecture.Tests.Fixture.Alpha;

namespace Sweeper.Architecture.Tests;

/// <summary>The scanner behind <see cref="CoreFolderTests"/>, on a fixture whose dependencies hide in compiled code.</summary>
public sealed class FolderGraphTests
{
    private const string Root = "Sweeper.Architecture.Tests.Fixture";
    private static readonly FolderGraph Graph = FolderGraph.Build(typeof(AlphaMarker).Assembly, Root);

    [Fact]
    public void Build_Fixture_EveryEdgeFromSignaturesAndMethodBodies()
    {
        var edges = Graph.Edges.Select(e => $"{e.From} -> {e.To}").ToList();

        Assert.Equal(["Alpha -> Beta", "Alpha -> Leaf", "Beta -> Gamma", "Gamma -> Alpha"], edges);
    }

    [Fact]
    public void Build_Fixture_LambdasAndStateMachinesCountAsTheirTopLevelType()
    {
        Assert.Contains($"{Root}.Alpha.AlphaUser.Count uses {Root}.Beta.BetaThing", Graph.UsesOf("Alpha", "Beta"));
        Assert.Contains($"{Root}.Beta.BetaThing.LaterAsync uses {Root}.Gamma.GammaFactory", Graph.UsesOf("Beta", "Gamma"));
        Assert.Contains($"{Root}.Beta.BetaThing.Capture uses {Root}.Gamma.GammaFactory", Graph.UsesOf("Beta", "Gamma"));
        Assert.Contains($"{Root}.Gamma.GammaFactory.Make uses {Root}.Alpha.AlphaMarker", Graph.UsesOf("Gamma", "Alpha"));
        Assert.Contains($"{Root}.Alpha.AlphaUser.Wrap uses {Root}.Leaf.LeafValue", Graph.UsesOf("Alpha", "Leaf"));
    }

    [Fact]
    public void Cycles_Fixture_TheOneCycleWithTheUsesOnIt()
    {
        var cycles = Graph.Cycles().Select(c => string.Join(" -> ", c));
        var report = Graph.DescribeCycles();

        Assert.Equal(["Alpha -> Beta -> Gamma -> Alpha"], cycles);
        Assert.Contains($"Alpha -> Beta -> Gamma -> Alpha: Alpha -> Beta via {Root}.Alpha.AlphaUser.Count uses {Root}.Beta.BetaThing", report);
        Assert.DoesNotContain("Leaf", report);
    }
}
