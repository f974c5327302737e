using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Cluster.Tests;

/// <summary>A trainable whose accuracy is a function of its lr; counts concurrent runs; can fail or block on demand.</summary>
public sealed class FakeTrainableFactory : ITrainableFactory
{
    private int _running;
    private int _maxRunning;
    private int _created;

    public int MaxConcurrent => Volatile.Read(ref _maxRunning);
    /// <summary>Every resume: which trial, from which epoch.</summary>
    public System.Collections.Concurrent.ConcurrentBag<(TrialId Id, int Epoch)> Resumed { get; } = new();
    public int Created => Volatile.Read(ref _created);
    /// <summary>Trainables created and not yet disposed (runs going on).</summary>
    public int Running => Volatile.Read(ref _running);
    public TimeSpan EpochTime { get; init; } = TimeSpan.FromMilliseconds(20);
    /// <summary>Trials whose lr equals this value throw in epoch 1.</summary>
    public double? FailingLr { get; init; }
    /// <summary>Trials whose lr equals this value throw once, in this epoch, on their first run only.</summary>
    public (double Lr, int Epoch)? CrashOnce { get; init; }
    private readonly System.Collections.Concurrent.ConcurrentDictionary<TrialId, bool> _crashed = new();

    /// <summary>When set, epochs wait on it (for cancellation tests).</summary>
    public ManualResetEventSlim? Gate { get; init; }

    /// <summary>Set when an epoch has begun (before it waits on <see cref="Gate"/>).</summary>
    public ManualResetEventSlim EpochBegun { get; } = new(false);

    public ITrainable Create(TrialConfig config)
    {
        Interlocked.Increment(ref _created);
        int now = Interlocked.Increment(ref _running);
        int seen;
        while (now > (seen = Volatile.Read(ref _maxRunning)) && Interlocked.CompareExchange(ref _maxRunning, now, seen) != seen) { }
        return new Fake(this, config);
    }

    private sealed class Fake(FakeTrainableFactory owner, TrialConfig config) : ITrainable, ICheckpointable
    {
        public void SaveCheckpoint(string path, int epoch) => File.WriteAllText(path, $"{config.Id} {epoch}");

        public int LoadCheckpoint(string path)
        {
            var parts = File.ReadAllText(path).Split(' ');
            Assert.Equal(config.Id.ToString(), parts[0]);
            owner.Resumed.Add((config.Id, int.Parse(parts[1])));
            return int.Parse(parts[1]);
        }

        public int TotalEpochs => config.Trainable.Epochs;

        public EpochResult RunEpoch(int epoch, CancellationToken cancellationToken)
        {
            owner.EpochBegun.Set();
            if (owner.Gate is { } gate) gate.Wait(cancellationToken);
            else Task.Delay(owner.EpochTime, cancellationToken).GetAwaiter().GetResult();
            var lr = config.Trainable.Optimizer.Lr;
            if (owner.FailingLr == lr) throw new InvalidOperationException($"boom at lr {lr}");
            if (owner.CrashOnce is { } c && c.Lr == lr && c.Epoch == epoch && owner._crashed.TryAdd(config.Id, true))
                throw new IOException($"disk hiccup at epoch {epoch}");
            var acc = 1.0 - Math.Abs(Math.Log10(lr) + 1) / 4 - 0.1 / epoch;
            return new EpochResult(epoch, new Dictionary<string, double>
            {
                [MetricNames.TestAccuracy] = acc,
                [MetricNames.TrainLoss] = 1 - acc,
                [MetricNames.TestLoss] = 1.1 - acc,
            }, owner.EpochTime);
        }

        public void Dispose() => Interlocked.Decrement(ref owner._running);
    }
}

public static class TestSpecs
{
    public static SweepSpec Spec(int maxConcurrent = 2, int epochs = 2) => new()
    {
        Crashes = new CrashSpec { MaxRetries = 1, BackoffSeconds = 0.1 },
        Name = "test",
        Objective = new ObjectiveSpec(MetricNames.TestAccuracy, ObjectiveMode.Max),
        Trainable = new TrainableSpec { Dataset = new DatasetSpec(), Epochs = epochs },
        Resources = new ResourcesSpec { MaxConcurrentTrials = maxConcurrent },
    };

    public static IReadOnlyList<TrialConfig> Trials(SweepSpec spec, params double[] lrs) =>
        lrs.Select((lr, i) => new TrialConfig
        {
            Id = new TrialId(i + 1),
            Seed = i,
            Parameters = [new("trainable.optimizer.lr", lr)],
            Trainable = spec.Trainable with { Optimizer = spec.Trainable.Optimizer with { Lr = lr } },
        }).ToList();
}
