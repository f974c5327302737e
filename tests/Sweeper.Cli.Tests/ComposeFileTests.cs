using Sweeper.Core.Spec;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary>
/// docker-compose.yml is kept by hand (no Docker engine on CI): these checks keep its promises — Jaeger v2 pinned,
/// one build block for every sweeper service, TLS or an explicit --insecure, the journal on the coordinator's own
/// volume and checkpoints on the shared one.
/// </summary>
public sealed class ComposeFileTests
{
    private static Dictionary<string, Dictionary<object, object>> Services()
    {
        using var reader = new StringReader(File.ReadAllText(Path.Combine(Repository.Root, "docker-compose.yml")));
        var root = new DeserializerBuilder().Build().Deserialize<Dictionary<object, object>>(new MergingParser(new Parser(reader)));
        return ((Dictionary<object, object>)root["services"]).ToDictionary(e => (string)e.Key, e => (Dictionary<object, object>)e.Value);
    }

    private static List<string> Strings(object list) => ((List<object>)list).Select(o => (string)o).ToList();

    [Fact]
    public void Compose_Jaeger_Version2Pinned()
    {
        var image = (string)Services()["jaeger"]["image"];

        Assert.Matches(@"^jaegertracing/jaeger:2\.\d+\.\d+$", image);
    }

    [Fact]
    public void Compose_SweeperServices_OneBuildTlsOrInsecureStated()
    {
        var sweepers = Services().Where(s => s.Key != "jaeger").ToList();

        Assert.Equal(["coordinator", "worker1", "worker2"], sweepers.Select(s => s.Key).Order());
        var builds = sweepers.Select(s => (Dictionary<object, object>)s.Value["build"]).ToList();
        Assert.All(builds, b => Assert.Equal("ops/Dockerfile", b["dockerfile"]));
        Assert.Single(sweepers.Select(s => (string)s.Value["image"]).Distinct());
        Assert.All(sweepers, s =>
        {
            var command = Strings(s.Value["command"]);
            Assert.True(command.Contains("--insecure") || command.Contains("--tls-cert"), $"{s.Key}: neither --tls-cert nor --insecure");
            Assert.Contains("--hostname", command);
            Assert.Contains("checkpoints:/work/checkpoints", Strings(s.Value["volumes"]));
        });
    }

    [Fact]
    public void Compose_Journal_OnlyOnTheCoordinatorsVolume_CheckpointsShared()
    {
        var services = Services();
        var coordinator = Strings(services["coordinator"]["command"]);
        var output = coordinator[coordinator.IndexOf("--output") + 1];
        var journalVolume = Strings(services["coordinator"]["volumes"]).Single(v => v.EndsWith(":" + output, StringComparison.Ordinal)).Split(':')[0];

        Assert.All(services.Where(s => s.Key != "coordinator" && s.Value.ContainsKey("volumes")),
            s => Assert.DoesNotContain(Strings(s.Value["volumes"]), v => v.StartsWith(journalVolume + ":", StringComparison.Ordinal)));
        var spec = SpecLoader.LoadFile(Path.Combine(Repository.Root, "configs", "examples", "compose.yaml"), new SpecLoader.Options { CheckPaths = false });
        Assert.Equal("/work/checkpoints", spec.Checkpoint.Dir);
        Assert.Equal("/work/configs/examples/compose.yaml", coordinator[1]);
    }
}
