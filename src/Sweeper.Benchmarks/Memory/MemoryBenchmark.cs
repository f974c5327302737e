using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Hosting;
using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Benchmarks.Memory;

/// <summary>What one memory run measured: the samples in order (start, then after the trial counts asked for).</summary>
public sealed record MemoryFigures(int Trials, IReadOnlyList<MemorySample> Samples, long PeakRssBytes)
{
    /// <summary>The trial count from which growth is measured (20, or the last sample's count when fewer trials ran).</summary>
    public const int GrowthFrom = 20;

    /// <summary>RSS after the last trial minus RSS after trial <see cref="GrowthFrom"/> (null when fewer trials ran).</summary>
    public long? GrowthBytes
    {
        get
        {
            var from = Samples.FirstOrDefault(s => s.Trials == GrowthFrom);
            var last = Samples[^1];
            return from is null || last.Trials <= GrowthFrom ? null : last.RssBytes - from.RssBytes;
        }
    }

    /// <summary>The same growth of the anonymous resident memory (RssAnon), without code and file pages.</summary>
    public long? AnonGrowthBytes
    {
        get
        {
            var from = Samples.FirstOrDefault(s => s.Trials == GrowthFrom);
            var last = Samples[^1];
            return from is null || last.Trials <= GrowthFrom ? null : last.AnonRssBytes - from.AnonRssBytes;
        }
    }
}

/// <summary>
/// Runs <c>trials</c> tiny real trainings (MobileNetV1 width 0.25, one epoch on 128 training and 128 test images, one
/// checkpoint each) one after another through the path <c>sweeper run</c> takes in one process — coordinator singleton,
/// journal, a worker with one slot, a trial actor per trial, the trainable the factory makes — and reads the process's
/// resident set size at the start and after trial 1, 20, 50, 100 and the last.
/// </summary>
public static class MemoryBenchmark
{
    /// <summary>Where Fashion-MNIST is read from unless told otherwise.</summary>
    public const string DefaultDatasetPath = Sweeper.Training.Data.FashionMnist.DefaultPath;

    /// <summary>The trial counts after which RSS is read (those up to the run's length, and its last).</summary>
    public static IReadOnlyList<int> SampleAfter(int trials) =>
        new[] { 1, 20, 50, 100, 200 }.Where(n => n < trials).Append(trials).Distinct().ToList();

    /// <summary>The sweep the benchmark runs: <paramref name="trials"/> one-epoch trials on <paramref name="datasetPath"/>.</summary>
    public static (SweepSpec Spec, IReadOnlyList<TrialConfig> Trials) Sweep(int trials, string datasetPath)
    {
        var spec = new SweepSpec
        {
            Name = "bench-memory",
            Objective = new ObjectiveSpec(MetricNames.TestAccuracy, ObjectiveMode.Max),
            Trainable = new TrainableSpec
            {
                Model = "mobilenet_v1", Width = 0.25, Epochs = 1, BatchSize = 64,
                Dataset = new DatasetSpec { Name = "fashion_mnist", Path = Path.GetFullPath(datasetPath), TrainSubset = 128, TestSubset = 128 },
            },
            Resources = new ResourcesSpec { MaxConcurrentTrials = 1 },
        };
        var configs = Enumerable.Range(1, trials).Select(i => new TrialConfig
        {
            Id = new TrialId(i), Seed = i, Parameters = [new("trainable.optimizer.lr", 0.01 * (1 + i % 10))],
            Trainable = spec.Trainable with { Optimizer = spec.Trainable.Optimizer with { Lr = 0.01 * (1 + i % 10) } },
        }).ToList();
        return (spec, configs);
    }

    /// <param name="onSample">Called with each sample as it is taken (progress).</param>
    public static async Task<MemoryFigures> RunAsync(int trials, string datasetPath, ITrainableFactory factory, Action<MemorySample>? onSample = null,
        CancellationToken cancel = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(trials, 1);
        var (spec, configs) = Sweep(trials, datasetPath);
        var sampleAfter = SampleAfter(trials).ToHashSet();
        var samples = new List<MemorySample>();
        void Take(string label, int count)
        {
            var sample = ProcessMemory.Sample(label, count);
            lock (samples) samples.Add(sample);
            onSample?.Invoke(sample);
        }
        var runDir = Directory.CreateTempSubdirectory("sweeper-bench-memory-").FullName;
        try
        {
            Take("start", 0);
            var done = new TaskCompletionSource<SweepResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            int completed = 0;
            using var host = SweeperHosting.BuildHost(akka => akka
                .AddSweeperCluster("127.0.0.1", 0, [SweeperRoles.Coordinator, SweeperRoles.Worker], [])
                .AddSweeperCoordinator(spec, new FixedTrialSource(configs), new CoordinatorOptions(runDir, Path.Combine(runDir, "checkpoints"))
                {
                    OnFatal = failure => done.TrySetException(new InvalidOperationException(failure.Message)),
                })
                .AddSweeperWorker(1, factory));
            await host.StartAsync(cancel);
            try
            {
                var system = host.Services.GetRequiredService<ActorSystem>();
                var proxy = await host.Services.GetRequiredService<ActorRegistry>().GetAsync<CoordinatorProxy>(cancel);
                system.ActorOf(SweepWatcherActor.Props(proxy, trial =>
                {
                    // The watcher's thread, in order: each trial's end is seen once.
                    if (trial.State is not (TrialState.Completed or TrialState.Failed)) return;
                    if (trial.State == TrialState.Failed) done.TrySetException(new InvalidOperationException($"trial {trial.Config.Id} failed: {trial.Reason}"));
                    int n = Interlocked.Increment(ref completed);
                    if (sampleAfter.Contains(n)) Take($"after trial {n}", n);
                }, r => done.TrySetResult(r)), "sweep-watcher");
                await using (cancel.Register(() => done.TrySetCanceled(cancel)))
                {
                    var result = await done.Task;
                    int ok = result.Trials.Count(t => t.State == TrialState.Completed);
                    if (ok != trials) throw new InvalidOperationException($"only {ok} of {trials} trials completed");
                }
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
            // The kernel folds the current RSS into its high-water mark lazily (on unmaps, not when malloc_trim returns pages
            // with madvise), so VmHWM read now can be below a VmHWM read at a sample: the peak is the highest of them.
            var (_, peak, _) = ProcessMemory.Read();
            lock (samples) return new MemoryFigures(trials, samples.ToList(), Math.Max(peak, samples.Max(s => s.PeakRssBytes)));
        }
        finally
        {
            Directory.Delete(runDir, recursive: true);
        }
    }
}
