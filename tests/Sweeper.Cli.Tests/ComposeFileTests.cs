using Sweeper.Cli.Commands;
using Sweeper.Cluster.Hosting;
using Sweeper.Core.Spec;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary>
/// docker-compose.yml is kept by hand (no Docker engine on CI): these checks keep its promises — Jaeger v2 pinned,
/// one build block for every sweeper service, TLS or an explicit --insecure, the journal on the coordinator's own
/// volume and checkpoints on the shared one, and workers that scale (<c>--scale worker=N</c>) because they find the
/// coordinator through config discovery of its management port, with arguments the program accepts.
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

        Assert.Equal(["coordinator", "worker"], sweepers.Select(s => s.Key).Order());
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

    [Fact]
    public void Compose_Worker_ScalesThroughConfigDiscoveryOfTheCoordinatorsManagementPort()
    {
        var services = Services();
        var coordinator = Assert.IsType<RunSettings>(CommandLine.Parse(Strings(services["coordinator"]["command"])));
        var workerService = services["worker"];
        var worker = Assert.IsType<WorkerSettings>(CommandLine.Parse(Strings(workerService["command"])));

        // A scaled service has no fixed name or port of its own: each replica advertises its container's address.
        Assert.False(workerService.ContainsKey("hostname") || workerService.ContainsKey("container_name") || workerService.ContainsKey("ports"));
        Assert.Equal(NodeSettings.AutoHostname, worker.Hostname);
        Assert.Equal("", worker.Join);
        Assert.Equal(WorkerSettings.ConfigMethod, worker.Discovery);
        Assert.Equal($"{coordinator.Hostname}:{coordinator.ManagementPort}", worker.DiscoveryEndpoints);
        Assert.Equal(coordinator.Hostname, (string)services["coordinator"]["hostname"]);
        Assert.NotNull(worker.ManagementPort);
        Assert.True(coordinator.NoLocalWorker);
        Assert.Equal("2", ((Dictionary<object, object>)workerService["deploy"])["replicas"]);
    }

    [Fact]
    public void Compose_WorkerArgs_ValidateAsTheProgramValidatesThem()
    {
        var worker = (WorkerSettings)CommandLine.Parse(Strings(Services()["worker"]["command"]));
        var result = worker.Validate();

        // 'auto' is resolved on the machine that runs it; here it either resolves (valid, with --insecure) or says why not.
        if (NodeSettings.NonLoopbackAddress() is { } address)
        {
            Assert.True(result.Successful, result.Message);
            Assert.Equal(address, worker.Host);
            Assert.IsType<ConfigDiscovery>(worker.DiscoveryOptions);
        }
        else Assert.Contains("--hostname auto", result.Message);
    }
}
