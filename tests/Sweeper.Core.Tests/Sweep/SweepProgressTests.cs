using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Stability;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Core.Tests.Sweep;

/// <summary>A sweep's progress from its recorded trials: counts, best, restarts and the ETA's arithmetic.</summary>
public sealed class SweepProgressTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly ObjectiveSpec Objective = new(MetricNames.ValAccuracy, ObjectiveMode.Max);

    /// <summary>A trial of <paramref name="planned"/> epochs with <paramref name="done"/> recorded, each taking <paramref name="seconds"/>.</summary>
    private static TrialRecord Trial(int id, TrialState state, int planned, int done, double seconds = 10, double acc = 0.5) => new()
    {
        Config = new TrialConfig
        {
            Id = new TrialId(id), Seed = id, Parameters = [new("trainable.optimizer.lr", 0.1 * id)],
            Trainable = new TrainableSpec { Dataset = new DatasetSpec(), Epochs = planned },
        },
        State = state,
        Epochs = Enumerable.Range(1, done).Select(e => new EpochResult(e, new Dictionary<string, double> { [MetricNames.ValAccuracy] = acc }, TimeSpan.FromSeconds(seconds))).ToList(),
    };

    private static SweepProgress Progress(long? total, params TrialRecord[] trials) => new(new SweepResult("p", Objective, trials, T0, T0), total);

    [Fact]
    public void ByState_EveryStateCountedZeroIncluded()
    {
        var p = Progress(5, Trial(1, TrialState.Completed, 2, 2), Trial(2, TrialState.Running, 2, 1), Trial(3, TrialState.Running, 2, 0), Trial(4, TrialState.Failed, 2, 1));

        Assert.Equal([(TrialState.Pending, 0), (TrialState.Running, 2), (TrialState.Completed, 1), (TrialState.Failed, 1), (TrialState.Stopped, 0)],
            p.ByState.Select(kv => (kv.Key, kv.Value)));
        Assert.Equal(2, p.Finished);
        Assert.Equal([2, 3], p.Running.Select(t => t.Id.Index));
    }

    [Fact]
    public void Best_OnlyACompletedTrialOnTheObjective()
    {
        var p = Progress(3, Trial(1, TrialState.Completed, 2, 2, acc: 0.6), Trial(2, TrialState.Running, 2, 1, acc: 0.9), Trial(3, TrialState.Completed, 2, 2, acc: 0.7));

        Assert.Equal(3, p.Best?.Id.Index);
        Assert.Null(Progress(1, Trial(1, TrialState.Running, 2, 1, acc: 0.9)).Best);
    }

    [Fact]
    public void Restarts_CrashesAndResumes_SummedOverTrials()
    {
        var restarted = Trial(1, TrialState.Running, 4, 1) with
        {
            Attempts = [new TrialAttempt { Number = 1, Verdict = StabilityKind.Diverged }, new TrialAttempt { Number = 2, Verdict = StabilityKind.Oscillating }, new TrialAttempt { Number = 3 }],
            Crashes = [new TrialCrash("boom", 1, T0)],
        };
        var resumed = Trial(2, TrialState.Running, 4, 1) with { Resumes = [new TrialResume(0, "worker left", T0)], Crashes = [new TrialCrash("x", 0, T0), new TrialCrash("y", 1, T0)] };

        var p = Progress(2, restarted, resumed);

        Assert.Equal(2, p.Restarts);
        Assert.Equal(3, p.Crashes);
        Assert.Equal(1, p.Resumes);
        Assert.Equal(3, restarted.Attempt);
        Assert.Equal(1, resumed.Attempt);
    }

    [Theory]
    // total, concurrency, then the trials as (state, planned, done): expected ETA in epochs of 10 s
    [InlineData(2, 2, "R4/1 R4/3", 3)]         // both run: the longer one (3 epochs left) decides
    [InlineData(3, 1, "C4/4 R4/2", 2 + 4)]      // one slot: the running trial's 2 epochs, then one trial not created yet
    [InlineData(4, 2, "C2/2 R2/1 P2/0", 1 + 2)] // the queued trial takes the free slot; the one not created follows the running one
    [InlineData(6, 2, "C2/2 C2/2", 4)]          // 4 trials not created on 2 slots: two rounds of 2 epochs
    [InlineData(2, 4, "C2/2 C2/2", 0)]          // all done: nothing left
    public void Eta_RemainingEpochsLaidOutOverTheSlots(long total, int concurrency, string trials, double epochs)
    {
        var records = trials.Split(' ').Select((t, i) =>
        {
            var state = t[0] switch { 'C' => TrialState.Completed, 'R' => TrialState.Running, _ => TrialState.Pending };
            var parts = t[1..].Split('/');
            return Trial(i + 1, state, int.Parse(parts[0]), int.Parse(parts[1]));
        }).ToArray();

        Assert.Equal(TimeSpan.FromSeconds(10 * epochs), Progress(total, records).Eta(concurrency));
    }

    [Fact]
    public void Eta_TotalUnknownOrNoEpochYet_Unknown()
    {
        Assert.Null(Progress(null, Trial(1, TrialState.Running, 4, 2)).Eta(1));
        Assert.Null(Progress(3, Trial(1, TrialState.Running, 4, 0), Trial(2, TrialState.Pending, 4, 0)).Eta(2));
    }
}
