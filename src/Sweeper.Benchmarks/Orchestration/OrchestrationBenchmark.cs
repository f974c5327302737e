using System.Diagnostics;
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Hosting;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Benchmarks.Orchestration;

/// <summary>Figures of one orchestration run.</summary>
/// <param name="Cpu">CPU time of the whole process (every thread) over the timed part.</param>
/// <param name="Allocated">Bytes allocated by the whole process over the timed part.</param>
/// <param name="JitCompiled">Methods the JIT compiled over the timed part (code generated per trial shows here).</param>
/// <param name="GcPause">Time the garbage collector paused the process over the timed part.</param>
public sealed record OrchestrationFigures(int Trials, int EpochsPerTrial, int Slots, bool Journal, TimeSpan Elapsed, TimeSpan Cpu = default, long Allocated = 0,
    long JitCompiled = 0, TimeSpan GcPause = default)
{
    public int Results => Trials * EpochsPerTrial;
    public double TrialsPerSecond => Trials / Elapsed.TotalSeconds;
    public double ResultsPerSecond => Results / Elapsed.TotalSeconds;
    /// <summary>Wall time per zero-length trial: what orchestrating one trial costs the sweep (the inverse of trials/s).</summary>
    public double PerTrialOverheadMs => Elapsed.TotalMilliseconds / Trials;
    /// <summary>CPU time per trial (all threads): unlike wall time, it does not depend on what else the machine runs.</summary>
    public double CpuMsPerTrial => Cpu.TotalMilliseconds / Trials;
    public double AllocatedKbPerTrial => Allocated / 1024.0 / Trials;
}

/// <summary>
/// Runs trials whose epochs take no time through the full path a sweep takes — coordinator singleton, worker, trial
/// actor on its own thread, every epoch's result back to the coordinator, journal — on a one-node cluster with
/// remoting on 127.0.0.1, and times it from the first assignment to the sweep's end.
/// </summary>
public static class OrchestrationBenchmark
{
    public static async Task<OrchestrationFigures> RunAsync(int trials, int epochsPerTrial, int slots, bool journal, ITrainableFactory factory, string workDirectory)
    {
        var spec = new SweepSpec
        {
            Name = "bench-orchestration",
            Objective = new ObjectiveSpec(MetricNames.TestAccuracy, ObjectiveMode.Max),
            Trainable = new TrainableSpec { Model = "synthetic", Dataset = new DatasetSpec(), Epochs = epochsPerTrial },
            Resources = new ResourcesSpec { MaxConcurrentTrials = slots },
            Checkpoint = new CheckpointSpec { IntervalEpochs = 0 },
        };
        var configs = Enumerable.Range(1, trials).Select(i => new TrialConfig
        {
            Id = new TrialId(i), Seed = i, Parameters = [new("trainable.optimizer.lr", 0.01 * (1 + i % 10))], Trainable = spec.Trainable,
        }).ToList();
        var runDir = Path.Combine(workDirectory, $"bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(runDir);
        try
        {
            var done = new TaskCompletionSource<SweepResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            // The worker registers only after the clock starts, so the coordinator's start-up (and the journal's
            // creation) are not counted, but every assignment is.
            using var host = SweeperHosting.BuildHost(akka => akka
                .AddSweeperCluster("127.0.0.1", 0, [SweeperRoles.Coordinator, SweeperRoles.Worker], [])
                .AddSweeperCoordinator(spec, new FixedTrialSource(configs), new CoordinatorOptions(journal ? runDir : null, Path.Combine(runDir, "checkpoints"))));
            await host.StartAsync();
            try
            {
                var system = host.Services.GetRequiredService<ActorSystem>();
                var proxy = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<CoordinatorProxy>();
                system.ActorOf(SweepWatcherActor.Props(proxy, _ => { }, r => done.TrySetResult(r)));
                await WaitForCoordinatorAsync(proxy);
                var cpuBefore = ProcessCpuTime.Now();
                long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false), jitBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
                var pauseBefore = GC.GetTotalPauseDuration();
                var clock = Stopwatch.StartNew();
                system.ActorOf(WorkerActor.Props(slots, factory, proxy), WorkerActor.Name);
                var result = await done.Task.WaitAsync(TimeSpan.FromMinutes(10));
                clock.Stop();
                long jit = System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore, allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
                var cpu = ProcessCpuTime.Now() - cpuBefore;
                var completed = result.Trials.Count(t => t.State == TrialState.Completed && t.Epochs.Count == epochsPerTrial);
                if (completed != trials) throw new InvalidOperationException($"only {completed} of {trials} trials completed every epoch");
                return new OrchestrationFigures(trials, epochsPerTrial, slots, journal, clock.Elapsed, cpu, allocated, jit, GC.GetTotalPauseDuration() - pauseBefore);
            }
            finally
            {
                await host.StopAsync();
            }
        }
        finally
        {
            Directory.Delete(runDir, recursive: true);
        }
    }

    private static async Task WaitForCoordinatorAsync(IActorRef proxy)
    {
        // The singleton answers a subscription once it runs.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                await proxy.Ask<Sweeper.Cluster.Messages.SweepQueries.SweepStatus>(Sweeper.Cluster.Messages.SweepQueries.GetStatus.Instance, TimeSpan.FromSeconds(2));
                return;
            }
            catch (AskTimeoutException) { }
        }
        throw new TimeoutException("the coordinator singleton did not start");
    }
}
