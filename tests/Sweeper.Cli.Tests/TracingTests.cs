using System.Text.Json.Nodes;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary>One trace per sweep, across processes, in a real OTLP backend (Aspire's dashboard on loopback).</summary>
public sealed class TracingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-tracing-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Spec = """
        name: traced
        seed: 3
        objective: {metric: test_accuracy, mode: max}
        trainable:
          model: synthetic
          epochs: 4
          synthetic: {epoch_seconds: 0.15}
        parameters:
          trainable.optimizer.lr: {values: [0.001, 0.01, 0.05, 0.1, 0.5, 1.0]}
        scheduler: {name: asha, grace_period: 1, reduction_factor: 2}
        resources: {max_concurrent_trials: 2}
        checkpoint: {interval_epochs: 2}
        """;


    [Fact]
    public async Task Run_WorkerInAnotherProcess_OneTraceWithTheWholeSpanTreeAndDecisions()
    {
        await using var dashboard = await AspireDashboard.StartAsync();
        var spec = Path.Combine(_dir, "spec.yaml");
        File.WriteAllText(spec, Spec);
        var port = TestPorts.Free().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var env = new Dictionary<string, string> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = dashboard.OtlpGrpcUrl };

        using var coordinator = SweeperProcess.Start(_dir, env, "run", spec, "--no-local-worker", "--port", port);
        await coordinator.WaitForLineAsync(l => l.Contains("run directory "), TimeSpan.FromSeconds(60));
        using var worker = SweeperProcess.Start(_dir, env, "worker", "--join", "127.0.0.1:" + port, "--slots", "2");
        Assert.Equal(0, await coordinator.WaitForExitAsync(TimeSpan.FromMinutes(2)));
        Assert.Equal(0, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60)));

        IReadOnlyList<(JsonObject Span, JsonObject Resource)> spans = [];
        for (int i = 0; i < 40 && !spans.Any(s => (string?)s.Span["name"] == "sweep"); i++)
        {
            await Task.Delay(250);
            spans = await dashboard.SpansAsync();
        }
        var ours = spans.Where(s => AspireDashboard.Attribute(s.Resource, "service.name") == "sweeper").ToList();
        string Name((JsonObject Span, JsonObject Resource) s) => (string)s.Span["name"]!;
        string Id((JsonObject Span, JsonObject Resource) s) => (string)s.Span["spanId"]!;
        string? Parent((JsonObject Span, JsonObject Resource) s) => (string?)s.Span["parentSpanId"];

        var sweep = Assert.Single(ours, s => Name(s) == "sweep");
        Assert.Single(ours.Select(s => (string)s.Span["traceId"]!).Distinct()); // one trace for the whole sweep
        Assert.True(string.IsNullOrEmpty(Parent(sweep)));
        var trials = ours.Where(s => Name(s) == "trial").ToList();
        Assert.Equal(6, trials.Count);
        Assert.All(trials, t => Assert.Equal(Id(sweep), Parent(t)));
        Assert.All(trials, t => Assert.NotNull(AspireDashboard.Attribute(t.Span, "sweeper.param.trainable.optimizer.lr")));
        Assert.All(trials, t => Assert.NotNull(AspireDashboard.Attribute(t.Span, "sweeper.trial.state")));

        // The attempts ran in the worker process, yet sit under their trials in the same trace.
        var attempts = ours.Where(s => Name(s) == "attempt").ToList();
        Assert.Equal(6, attempts.Count);
        Assert.All(attempts, a => Assert.Equal("worker", AspireDashboard.Attribute(a.Resource, "sweeper.role")));
        Assert.All(attempts, a => Assert.Contains(Parent(a), trials.Select(Id)));
        Assert.All(attempts, a => Assert.StartsWith("akka.tcp://sweeper@127.0.0.1:", AspireDashboard.Attribute(a.Span, "sweeper.worker.node")));
        Assert.Equal("coordinator", AspireDashboard.Attribute(sweep.Resource, "sweeper.role"));

        var epochs = ours.Where(s => Name(s) == "epoch").ToList();
        Assert.NotEmpty(epochs);
        Assert.All(epochs, e => Assert.Contains(Parent(e), attempts.Select(Id)));
        Assert.All(epochs.Where(e => AspireDashboard.Attribute(e.Span, "sweeper.cancelled") is null),
            e => Assert.NotNull(AspireDashboard.Attribute(e.Span, "sweeper.metric.test_accuracy")));
        var checkpoints = ours.Where(s => Name(s) == "checkpoint").ToList();
        Assert.NotEmpty(checkpoints);
        Assert.All(checkpoints, c => Assert.Contains(Parent(c), epochs.Select(Id)));

        // Scheduler decisions are events on the trial spans, with their reason; ASHA stopped some trials.
        var decisions = trials.SelectMany(t => t.Span["events"]?.AsArray() ?? []).Where(e => (string?)e!["name"] == "scheduler.decision").ToList();
        Assert.NotEmpty(decisions);
        Assert.All(decisions, d => Assert.False(string.IsNullOrEmpty(AspireDashboard.Attribute(d!.AsObject(), "sweeper.reason"))));
        Assert.Contains(decisions, d => AspireDashboard.Attribute(d!.AsObject(), "sweeper.action") == "stop");
    }

    [Fact]
    public async Task TracesPush_RunWithoutEndpoint_FileReachesTheBackendLater()
    {
        var spec = Path.Combine(_dir, "spec.yaml");
        File.WriteAllText(spec, Spec);
        var run = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(2), "run", spec);
        Assert.True(run.ExitCode == 0, run.ToString());
        var runDir = Directory.GetDirectories(Path.Combine(_dir, "runs")).Single();
        Assert.True(File.Exists(Path.Combine(runDir, "traces.jsonl")));

        await using var dashboard = await AspireDashboard.StartAsync();
        var push = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "traces", "push", runDir, "--endpoint", dashboard.OtlpHttpUrl);

        Assert.True(push.ExitCode == 0, push.ToString());
        var spans = await dashboard.SpansAsync();
        Assert.Single(spans, s => (string?)s.Span["name"] == "sweep");
        Assert.Equal(6, spans.Count(s => (string?)s.Span["name"] == "trial"));
        Assert.Single(spans.Select(s => (string)s.Span["traceId"]!).Distinct());
    }
}
