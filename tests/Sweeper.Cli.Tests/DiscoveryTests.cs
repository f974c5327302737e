using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sweeper.Cli.Commands;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary>
/// Workers that find the cluster through Akka Cluster Bootstrap (config discovery, no --join), the health endpoints of
/// the management port, and the command line's refusals of contradictory options.
/// </summary>
public sealed partial class DiscoveryTests : IDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-discovery-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static string Port() => TestPorts.Free().ToString(CultureInfo.InvariantCulture);

    private string WriteSpec() => SyntheticSpec.Write(_dir, "synthetic", 6, 0.5, [0.01, 0.03, 0.1, 0.3]);

    [GeneratedRegex(@"run directory (\S+)")]
    private static partial Regex RunDirectoryLine();

    [GeneratedRegex(@"^worker (akka\.tcp://sweeper@\S+) ")]
    private static partial Regex WorkerLine();

    private static async Task<(int Status, string Body)> GetAsync(string port, string path)
    {
        using var response = await Http.GetAsync($"http://127.0.0.1:{port}{path}");
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// Polls until <paramref name="path"/> answers 200; returns the body. Fails at once, with its output, when
    /// <paramref name="owner"/> (the process serving the port) exits first.
    /// </summary>
    private static async Task<string> WaitFor200Async(string port, string path, TimeSpan timeout, SweeperProcess.Running owner)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = (Status: 0, Body: "no answer");
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await GetAsync(port, path);
                if (last.Status == 200) return last.Body;
            }
            catch (HttpRequestException ex) { last = (0, ex.Message); }
            if (owner.HasExited)
                throw new InvalidOperationException($"the process serving {path} on port {port} exited before it answered 200 (last: {last.Status} {last.Body}); its output:\n{owner.Output}");
            await Task.Delay(200);
        }
        throw new TimeoutException($"{path} on port {port} did not answer 200 within {timeout}; last: {last.Status} {last.Body}; its process's output:\n{owner.Output}");
    }

    /// <summary>
    /// Two workers started first, with config discovery and no --join: they are alive but not ready and form no
    /// cluster of their own; the coordinator started after them gathers both, every endpoint turns ready, and trials
    /// run on both workers.
    /// </summary>
    [Fact]
    public async Task WorkersBeforeCoordinator_ConfigDiscovery_SweepRunsOnBothWorkers_HealthEndpointsAnswer()
    {
        var spec = WriteSpec();
        var (coordinatorManagement, management1, management2) = (Port(), Port(), Port());
        var contactPoint = "127.0.0.1:" + coordinatorManagement;
        using var worker1 = SweeperProcess.Start(_dir, "worker", "--discovery", "config", "--discovery-endpoints", contactPoint, "--management-port", management1);
        using var worker2 = SweeperProcess.Start(_dir, "worker", "--discovery", "config", "--discovery-endpoints", contactPoint, "--management-port", management2);
        var address1 = WorkerLine().Match(await worker1.WaitForLineAsync(l => WorkerLine().IsMatch(l), TimeSpan.FromSeconds(60))).Groups[1].Value;
        var address2 = WorkerLine().Match(await worker2.WaitForLineAsync(l => WorkerLine().IsMatch(l), TimeSpan.FromSeconds(60))).Groups[1].Value;

        // No coordinator yet: alive, not ready, and no cluster formed by the workers alone (stays so past the probe interval).
        Assert.Contains("\"Healthy\"", await WaitFor200Async(management1, "/health/alive", TimeSpan.FromSeconds(30), worker1));
        await Task.Delay(TimeSpan.FromSeconds(3));
        foreach (var port in new[] { management1, management2 })
        {
            var (status, body) = await GetAsync(port, "/health/ready");
            Assert.True(status == 503, $"ready answered {status} before any coordinator: {body}");
            Assert.Contains("not Up", body);
            Assert.Equal(503, (await GetAsync(port, "/bootstrap/seed-nodes")).Status);
        }

        using var coordinator = SweeperProcess.Start(_dir, "run", spec, "--no-local-worker", "--port", Port(), "--management-port", coordinatorManagement);
        var runDir = RunDirectoryLine().Match(await coordinator.WaitForLineAsync(l => l.Contains("run directory "), TimeSpan.FromSeconds(60))).Groups[1].Value;
        var ready = await Task.WhenAll(
            WaitFor200Async(coordinatorManagement, "/health/ready", TimeSpan.FromSeconds(60), coordinator),
            WaitFor200Async(management1, "/health/ready", TimeSpan.FromSeconds(60), worker1),
            WaitFor200Async(management2, "/health/ready", TimeSpan.FromSeconds(60), worker2));
        Assert.Equal(200, (await GetAsync(coordinatorManagement, "/health/alive")).Status);
        Assert.All(ready.Skip(1), body => Assert.Contains("registered with the coordinator", body));

        Assert.Equal(0, await coordinator.WaitForExitAsync(TimeSpan.FromMinutes(2)));
        Assert.Equal(0, await worker1.WaitForExitAsync(TimeSpan.FromSeconds(60))); // they leave with the coordinator
        Assert.Equal(0, await worker2.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.DoesNotContain("--join", worker1.Output);
        using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json")));
        var trials = results.RootElement.GetProperty("trials").EnumerateArray().ToList();
        Assert.Equal(4, trials.Count);
        Assert.All(trials, t => Assert.Equal("completed", t.GetProperty("state").GetString()));
        Assert.Equal(new[] { address1, address2 }.Order(), trials.Select(t => t.GetProperty("worker").GetString()).Distinct().Order());
    }

    [Theory]
    [InlineData("give --join <HOST:PORT> (the coordinator's address) or --discovery", "worker")]
    [InlineData("either --join or --discovery, not both", "worker", "--join", "127.0.0.1:4053", "--discovery", "config", "--discovery-endpoints", "127.0.0.1:8558", "--management-port", "8559")]
    [InlineData("--discovery needs --management-port", "worker", "--discovery", "config", "--discovery-endpoints", "127.0.0.1:8558")]
    [InlineData("--discovery config needs --discovery-endpoints", "worker", "--discovery", "config", "--management-port", "8559")]
    [InlineData("--discovery expects 'config' or 'kubernetes', found 'dns'", "worker", "--discovery", "dns", "--management-port", "8559")]
    [InlineData("go with --discovery", "worker", "--join", "127.0.0.1:4053", "--discovery-endpoints", "127.0.0.1:8558")]
    [InlineData("--discovery-endpoints goes with --discovery config", "worker", "--discovery", "kubernetes", "--management-port", "8559", "--discovery-endpoints", "127.0.0.1:8558")]
    [InlineData("--pod-selector and --pod-namespace go with --discovery kubernetes", "worker", "--discovery", "config", "--management-port", "8559", "--discovery-endpoints", "127.0.0.1:8558", "--pod-selector", "app=sweeper")]
    [InlineData("expects HOST:PORT,..., e.g. coordinator:8558, found 'coordinator'", "worker", "--discovery", "config", "--management-port", "8559", "--discovery-endpoints", "127.0.0.1:8558,coordinator")]
    [InlineData("--management-hostname goes with --management-port", "worker", "--join", "127.0.0.1:4053", "--management-hostname", "127.0.0.1")]
    [InlineData("--management-port must be between 1 and 65535", "run", "spec.yaml", "--management-port", "70000")]
    [InlineData("--management-port 4053 is the remoting port too", "run", "spec.yaml", "--port", "4053", "--management-port", "4053")]
    public async Task ContradictoryNodeOptions_Exit2WithOneLine(string message, params string[] args)
    {
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromSeconds(60), args);

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains(message, outcome.Stderr);
        Assert.DoesNotContain("   at ", outcome.Stderr); // no stack trace
    }

    [Fact]
    public async Task HostnameAuto_ResolvesToThisMachinesAddress_OffLoopbackNeedsTlsOrInsecure()
    {
        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromSeconds(60), "worker", "--join", "127.0.0.1:4053", "--hostname", "auto");

        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains(NodeSettings.NonLoopbackAddress() is { } address ? $"--hostname {address} opens remoting" : "--hostname auto: this machine has no non-loopback IPv4 address", outcome.Stderr);
    }

    [Fact]
    public async Task ManagementPortTaken_OneLineError_NonZeroExit()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromSeconds(60), "worker", "--join", "127.0.0.1:" + Port(), "--management-port", port);

        Assert.True(outcome.ExitCode == 1, outcome.ToString());
        Assert.Contains($"error: the management endpoint 127.0.0.1:{port} could not start", outcome.Stderr);
        Assert.DoesNotContain("   at ", outcome.Stderr);
    }
}
