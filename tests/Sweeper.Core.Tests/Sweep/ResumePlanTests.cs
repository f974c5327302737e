using Sweeper.Core.Model;
using Sweeper.Core.Search;
using Sweeper.Core.Spec;
using Sweeper.Core.Stability;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Core.Tests.Sweep;

/// <summary>What <c>sweeper resume --rerun-failed / --extend N</c> starts the coordinator from, and how the coordinator then behaves.</summary>
public sealed class ResumePlanTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Later = T0.AddDays(1);
    private static readonly WorkerId A = new(1);

    private static SweepSpec Spec(string search = "{algorithm: random, num_samples: 4}", string extra = "") => SpecLoader.LoadText($$$"""
        name: resume
        seed: 7
        objective: {metric: val_accuracy, mode: max}
        trainable: {model: synthetic, epochs: 2, optimizer: {lr: 0.1}}
        parameters:
          trainable.optimizer.lr: {log_uniform: [0.0001, 1.0]}
          trainable.optimizer.name: {values: [sgd, adam]}
        search: {{{search}}}
        stability:
          diverged: {action: restart, from: start, change: [{trainable.optimizer.lr: "*0.1"}], max_restarts: 1}
        {{{extra}}}
        """, "resume.yaml", Path.GetTempPath());

    private static EpochResult Epoch(int n, double acc) => new(n, new Dictionary<string, double> { [MetricNames.ValAccuracy] = acc }, TimeSpan.FromSeconds(1));

    /// <summary>A trial as the journal keeps it after it ended: its original config, two epochs, one attempt.</summary>
    private static TrialRecord Ended(TrialConfig config, double acc, TrialState state = TrialState.Completed, string? reason = null) => new()
    {
        Config = config, State = state, Reason = reason, Epochs = [Epoch(1, acc / 2), Epoch(2, acc)], Worker = "node-a",
        StartedAt = T0, FinishedAt = T0.AddMinutes(1), Assignment = 1, Attempts = [new TrialAttempt { Number = 1, StartedAt = T0, LastEpoch = 2 }],
    };

    /// <summary>The first <paramref name="count"/> trials of <paramref name="spec"/>, ended with objectives from <paramref name="objective"/>.</summary>
    private static List<TrialRecord> Run(SweepSpec spec, int count, Func<TrialConfig, double> objective) =>
        SpecTrialSource.Preview(spec, count).Select(c => Ended(c, objective(c))).ToList();

    private static double Lr(TrialConfig c) => Convert.ToDouble(c.Parameters.Single(p => p.Key == "trainable.optimizer.lr").Value);

    /// <summary>Near lr 0.01 is best (a smooth objective TPE can learn).</summary>
    private static double Accuracy(TrialConfig c) => 0.9 - 0.1 * Math.Abs(Math.Log10(Lr(c)) + 2);

    private static SweepState Started(SweepSpec spec, ITrialSource source, IReadOnlyList<TrialRecord> trials)
    {
        var state = new SweepState(spec, source, () => Later);
        state.Start(trials, T0);
        return state;
    }

    [Theory]
    [InlineData(TrialState.Failed, "boom", true)]
    [InlineData(TrialState.Failed, null, true)]
    [InlineData(TrialState.Stopped, "stability: diverged: max_restarts (1) reached", true)]
    [InlineData(TrialState.Stopped, "asha: below the rung's cutoff", false)]
    [InlineData(TrialState.Stopped, "median: below the median", false)]
    [InlineData(TrialState.Stopped, "target val_accuracy >= 0.8 reached by t0001", false)]
    [InlineData(TrialState.Stopped, "time budget of 5 min used up", false)]
    [InlineData(TrialState.Stopped, "cancelled by the user", false)]
    [InlineData(TrialState.Completed, null, false)]
    [InlineData(TrialState.Pending, null, false)]
    [InlineData(TrialState.Running, null, false)]
    public void Qualifies_FailedAndStoppedByStabilityOnly(TrialState state, string? reason, bool rerun)
    {
        var trial = Ended(SpecTrialSource.Preview(Spec(), 1)[0], 0.5, state, reason);

        Assert.Equal(rerun, ResumePlan.Qualifies(trial));
    }

    [Fact]
    public void RerunOf_TrialStoppedAfterARestart_NewAttemptFromScratchHistoryKeptRunStateCleared()
    {
        var config = SpecTrialSource.Preview(Spec(), 1)[0];
        var crash = new TrialCrash("out of memory", 1, T0);
        var resume = new TrialResume(1, "worker node-b left the cluster", T0);
        var stopped = Ended(config, 0.1, TrialState.Stopped, "stability: diverged: max_restarts (1) reached") with
        {
            Crashes = [crash], Resumes = [resume], Rung = 1, Assignment = 4,
            Checkpoint = new CheckpointRef(2, "/c/t0001/a0004/epoch-0002.ckpt"), HealthyCheckpoint = new CheckpointRef(1, "/c/t0001/a0004/epoch-0001.ckpt"),
            Attempts =
            [
                new TrialAttempt { Number = 1, StartedAt = T0, Verdict = StabilityKind.Diverged, Reason = "loss NaN", LastEpoch = 1 },
                new TrialAttempt { Number = 2, StartedAt = T0, Changes = [new("trainable.optimizer.lr", 0.01)], Verdict = StabilityKind.Diverged, Reason = "loss NaN", LastEpoch = 2 },
            ],
        };

        var rerun = ResumePlan.RerunOf(stopped, Later);

        Assert.Equal(TrialState.Pending, rerun.State);
        Assert.Equal(config, rerun.Config);
        Assert.Equal(3, rerun.Attempts.Count);
        Assert.Equal(stopped.Attempts[0], rerun.Attempts[0]);
        Assert.Equal(stopped.Attempts[1] with { Outcome = "stopped: stability: diverged: max_restarts (1) reached" }, rerun.Attempts[1]);
        var attempt = rerun.Attempts[2];
        Assert.Equal((3, 0, true, Later), (attempt.Number, attempt.FromEpoch, attempt.Rerun, attempt.StartedAt));
        Assert.Empty(attempt.Changes);
        Assert.Null(attempt.Verdict);
        Assert.Equal("rerun of trial stopped by stability supervision, from scratch with its original config", attempt.Reason);
        Assert.Equal([crash], rerun.Crashes);
        Assert.Equal([resume], rerun.Resumes);
        Assert.Equal(4, rerun.Assignment); // continued: an older life's assignments stay stale
        Assert.Empty(rerun.Epochs);
        Assert.Null(rerun.Checkpoint);
        Assert.Null(rerun.HealthyCheckpoint);
        Assert.Null(rerun.Reason);
        Assert.Null(rerun.Rung);
        Assert.Null(rerun.Worker);
        Assert.Null(rerun.StartedAt);
        Assert.Null(rerun.FinishedAt);
        Assert.Equal(1, rerun.Restarts);
    }

    [Fact]
    public void RerunOf_CompletedTrial_Refused() =>
        Assert.Throws<ArgumentException>(() => ResumePlan.RerunOf(Ended(SpecTrialSource.Preview(Spec(), 1)[0], 0.5), Later));

    [Fact]
    public void Create_RerunFailed_OnlyFailedAndStabilityStoppedQueuedOthersUntouched()
    {
        var configs = SpecTrialSource.Preview(Spec(), 4);
        var journaled = new List<TrialRecord>
        {
            Ended(configs[0], 0.8),
            Ended(configs[1], 0.1, TrialState.Failed, "the trainable threw: disk full"),
            Ended(configs[2], 0.3, TrialState.Stopped, "asha: below the cutoff"),
            Ended(configs[3], 0.1, TrialState.Stopped, "stability: diverged: stop"),
        };

        var plan = ResumePlan.Create(Spec(), journaled, new ResumeRequest(RerunFailed: true), 4, null, Later);

        Assert.Equal([2, 4], plan.Rerun.Select(t => t.Id.Index));
        Assert.Equal([journaled[0], plan.Rerun[0], journaled[2], plan.Rerun[1]], plan.Trials);
        Assert.Equal("failed: the trainable threw: disk full", plan.Rerun[0].Attempts[0].Outcome);
        Assert.Equal("rerun of failed trial, from scratch with its original config", plan.Rerun[0].Attempts[1].Reason);
        Assert.Null(plan.TrialLimit);
        Assert.Null(plan.BudgetFrom);
    }

    [Fact]
    public void Create_NothingToRerun_PlanIsTheJournal()
    {
        var journaled = Run(Spec(), 4, Accuracy);

        var plan = ResumePlan.Create(Spec(), journaled, new ResumeRequest(RerunFailed: true), 4, null, Later);

        Assert.Empty(plan.Rerun);
        Assert.Equal(journaled, plan.Trials);
    }

    [Fact]
    public void Start_RerunOfTrialRestartedWithChanges_RunsTheOriginalConfigFromScratch()
    {
        var spec = Spec();
        var config = SpecTrialSource.Preview(spec, 1)[0];
        var stopped = Ended(config, 0.1, TrialState.Stopped, "stability: diverged: max_restarts (1) reached") with
        {
            Checkpoint = new CheckpointRef(2, "/c/t0001/epoch-0002.ckpt"),
            Attempts =
            [
                new TrialAttempt { Number = 1, Verdict = StabilityKind.Diverged, LastEpoch = 1 },
                new TrialAttempt { Number = 2, Changes = [new("trainable.optimizer.lr", Lr(config) * 0.1)], Verdict = StabilityKind.Diverged, LastEpoch = 2 },
            ],
        };
        var plan = ResumePlan.Create(spec, [stopped], new ResumeRequest(RerunFailed: true), 1, null, Later);
        var state = Started(spec, new FixedTrialSource([config]), plan.Trials);

        var assign = Assert.Single(state.WorkerJoined(A, "node-a", 1).OfType<SweepEffect.Assign>());

        Assert.Equal(config.Trainable, assign.Trial.Config.Trainable);
        Assert.Equal(Lr(config), assign.Trial.Config.Trainable.Optimizer.Lr, 12);
        Assert.Null(assign.Trial.Checkpoint);
        Assert.Equal(2, assign.Assignment);
        Assert.Equal(3, state[config.Id].Attempts.Count);
    }

    [Fact]
    public void Start_RerunThatTurnsUnstable_RestartPolicyCountsAfreshFromTheOriginal()
    {
        var spec = Spec();
        var config = SpecTrialSource.Preview(spec, 1)[0];
        var stopped = Ended(config, 0.1, TrialState.Stopped, "stability: diverged: max_restarts (1) reached") with
        {
            Attempts =
            [
                new TrialAttempt { Number = 1, Verdict = StabilityKind.Diverged, LastEpoch = 1 },
                new TrialAttempt { Number = 2, Changes = [new("trainable.optimizer.lr", Lr(config) * 0.1)], Verdict = StabilityKind.Diverged, LastEpoch = 2 },
            ],
        };
        var plan = ResumePlan.Create(spec, [stopped], new ResumeRequest(RerunFailed: true), 1, null, Later);
        var state = Started(spec, new FixedTrialSource([config]), plan.Trials);
        var assignment = Assert.Single(state.WorkerJoined(A, "node-a", 1).OfType<SweepEffect.Assign>()).Assignment;

        var effects = state.TrialUnstable(config.Id, assignment, StabilityVerdict.Unhealthy(StabilityKind.Diverged,
            new StabilityEvidence(StabilitySignal.NonFiniteLoss, 3, null, null, 0, double.NaN, double.NaN, double.NaN, [], "loss is NaN")), 1, 0);

        // max_restarts 1 was used up before the rerun; the rerun gets its own: restarted once more, with lr × 0.1 of the original.
        var restart = Assert.Single(effects.OfType<SweepEffect.Restarted>()).Attempt;
        Assert.Equal(4, restart.Number);
        Assert.Equal(Lr(config) * 0.1, Convert.ToDouble(Assert.Single(restart.Changes).Value), 12);
        var again = Assert.Single(effects.OfType<SweepEffect.Assign>()); // the slot is free: at once
        Assert.Equal(Lr(config) * 0.1, again.Trial.Config.Trainable.Optimizer.Lr, 12);
    }

    [Fact]
    public void Start_WithRerunPlan_SearcherNotToldTheRerunTrialsFailureButTheOthers()
    {
        var spec = Spec();
        var configs = SpecTrialSource.Preview(spec, 3);
        var journaled = new List<TrialRecord> { Ended(configs[0], 0.8), Ended(configs[1], 0.1, TrialState.Failed, "boom"), Ended(configs[2], 0.6) };
        var plan = ResumePlan.Create(spec, journaled, new ResumeRequest(RerunFailed: true), 3, null, Later);

        var withPlan = new RecordingSource(new SpecTrialSource(spec));
        Started(spec, withPlan, plan.Trials);
        var plain = new RecordingSource(new SpecTrialSource(spec));
        Started(spec, plain, journaled);

        Assert.Equal([(1, 0.8), (3, 0.6)], withPlan.Reports.Select(r => (r.Trial, r.Objective)));
        Assert.Contains(plain.Reports, r => r.Trial == 2 && double.IsNaN(r.Objective)); // what a plain resume feeds it
    }

    [Fact]
    public void Create_ExtendFinishedSweep_LimitRaisedIdsAfterTheExisting()
    {
        var spec = Spec();
        var journaled = Run(spec, 4, Accuracy);

        var plan = ResumePlan.Create(spec, journaled, new ResumeRequest(Extend: 3), 4, null, Later);

        Assert.Equal(7, plan.TrialLimit);
        Assert.Equal(5, plan.FirstNewTrial);
        Assert.Equal(journaled, plan.Trials);
        Assert.Null(plan.BudgetFrom); // no stop.max_minutes
        Assert.Null(plan.EndsStop);
        Assert.False(plan.IgnoreTarget);
    }

    [Fact]
    public void Create_ExtendInterruptedSweep_PlannedTrialsStillToComeAndNMore()
    {
        var spec = Spec();
        var journaled = Run(spec, 2, Accuracy);

        var plan = ResumePlan.Create(spec, journaled, new ResumeRequest(Extend: 3), 4, "cancelled by the user", Later);

        Assert.Equal((7L, 5), (plan.TrialLimit, plan.FirstNewTrial));
        Assert.Null(plan.EndsStop);
    }

    [Fact]
    public void Create_ExtendSweepThatReachedItsTarget_NMoreThanCreatedTargetIgnoredBudgetRestarted()
    {
        var spec = Spec(extra: "stop: {target: 0.85, max_minutes: 30}");
        var journaled = Run(spec, 2, _ => 0.9);
        var reason = SweepStops.TargetReached(spec, journaled[0])!;

        var plan = ResumePlan.Create(spec, journaled, new ResumeRequest(Extend: 3), 4, reason, Later);

        Assert.Equal((5L, 3), (plan.TrialLimit, plan.FirstNewTrial));
        Assert.Equal(reason, plan.EndsStop);
        Assert.True(plan.IgnoreTarget);
        Assert.Equal(Later, plan.BudgetFrom);
    }

    [Fact]
    public void Create_ExtendSweepWhoseBudgetRanOut_NMoreThanCreatedBudgetRestartedTargetKept()
    {
        var spec = Spec(extra: "stop: {target: 0.95, max_minutes: 30}");
        var journaled = Run(spec, 3, Accuracy);

        var plan = ResumePlan.Create(spec, journaled, new ResumeRequest(Extend: 2), 4, SweepStops.BudgetUsedUp(spec), Later);

        Assert.Equal((5L, 4), (plan.TrialLimit, plan.FirstNewTrial));
        Assert.Equal(SweepStops.BudgetUsedUp(spec), plan.EndsStop);
        Assert.False(plan.IgnoreTarget);
        Assert.Equal(Later, plan.BudgetFrom);
    }

    [Fact]
    public void Create_ExtendGrid_RefusedWithReason()
    {
        var spec = Spec(search: "{algorithm: grid, num_samples: 1}").WithGridValues();
        var journaled = Run(spec, 2, Accuracy);

        var ex = Assert.Throws<ResumePlanException>(() => ResumePlan.Create(spec, journaled, new ResumeRequest(RerunFailed: true, Extend: 2), 4, null, Later));

        Assert.Contains("grid", ex.Message);
        Assert.Contains("random or tpe", ex.Message);
    }

    [Fact]
    public void Create_RerunAndExtend_Both()
    {
        var spec = Spec();
        var configs = SpecTrialSource.Preview(spec, 4);
        var journaled = configs.Select((c, i) => i == 2 ? Ended(c, 0.1, TrialState.Failed, "boom") : Ended(c, 0.5)).ToList();

        var plan = ResumePlan.Create(spec, journaled, new ResumeRequest(RerunFailed: true, Extend: 2), 4, null, Later);

        Assert.Equal([3], plan.Rerun.Select(t => t.Id.Index));
        Assert.Equal(6, plan.TrialLimit);
    }

    [Fact]
    public void ExtendedSource_SweepCreatesExactlyTheNewTrialsThenCompletes_EarlierOnesUntouched()
    {
        var spec = Spec();
        var journaled = Run(spec, 4, Accuracy);
        var plan = ResumePlan.Create(spec, journaled, new ResumeRequest(Extend: 3), new SpecTrialSource(spec).Total, null, Later);
        var source = new SpecTrialSource(spec, plan.TrialLimit);
        var state = Started(spec, source, plan.Trials);

        var effects = state.WorkerJoined(A, "node-a", 10);

        Assert.Equal(7, source.Total);
        Assert.Equal([5, 6, 7], effects.OfType<SweepEffect.TrialCreated>().Select(c => c.Config.Id.Index));
        Assert.Equal([5, 6, 7], effects.OfType<SweepEffect.Assign>().Select(a => a.Trial.Id.Index));
        Assert.DoesNotContain(effects.OfType<SweepEffect.TrialChanged>(), c => c.After.Id.Index <= 4);
        Assert.Equal(journaled, state.Trials.Take(4));
        foreach (var id in new[] { 5, 6, 7 })
        {
            state.EpochCompleted(new TrialId(id), 1, Epoch(1, 0.4));
            state.EpochCompleted(new TrialId(id), 1, Epoch(2, 0.5));
            state.TrialCompleted(new TrialId(id), 1);
        }
        Assert.Equal(7, state.Completed!.Trials.Count);
    }

    [Fact]
    public void ExtendedSource_WithRepeat_ContinuesThePlanConfigurationByConfiguration()
    {
        var spec = Spec(search: "{algorithm: random, num_samples: 2, repeat: 2}");
        var planned = SpecTrialSource.Preview(spec, 10);
        Assert.Equal(4, planned.Count);

        var source = new SpecTrialSource(spec, 7);
        var trials = Enumerable.Range(0, 10).Select(source.Create).TakeWhile(t => t is not null).Select(t => t!).ToList();

        Assert.Equal(7, trials.Count);
        static string Key(TrialConfig c) => $"{c.Id} {c.Seed} {c.ConfigIndex}/{c.Repeat} {ParameterValues.Format(c.Parameters)}";
        Assert.Equal(planned.Select(Key), trials.Take(4).Select(Key));
        Assert.Equal([(2, 0), (2, 1), (3, 0)], trials.Skip(4).Select(t => (t.ConfigIndex, t.Repeat)));
        Assert.Equal(trials[4].Parameters, trials[5].Parameters);
        Assert.NotEqual(trials[4].Seed, trials[5].Seed);
        Assert.Equal(Seeds.ForTrial(spec.Seed, 3, 0), trials[6].Seed);
    }

    [Fact]
    public void GridSource_LimitIgnored_NoMorePointsThanTheGrid()
    {
        var spec = Spec(search: "{algorithm: grid, num_samples: 1}").WithGridValues();

        Assert.Equal(new SpecTrialSource(spec).Total, new SpecTrialSource(spec, 99).Total);
    }

    [Fact]
    public void ExtendedTpe_ReplaysRecordedResults_ProposalsInformedByThem()
    {
        var spec = Spec(search: "{algorithm: tpe, num_samples: 10}"); // TPE's 10 startup trials: random until 10 results are known
        List<TrialConfig> Extension(Func<TrialConfig, double> objective)
        {
            var journaled = Run(spec, 10, objective);
            var plan = ResumePlan.Create(spec, journaled, new ResumeRequest(Extend: 3), new SpecTrialSource(spec).Total, null, Later);
            var state = Started(spec, new SpecTrialSource(spec, plan.TrialLimit), plan.Trials);
            return state.WorkerJoined(A, "node-a", 3).OfType<SweepEffect.TrialCreated>().Select(c => c.Config).ToList();
        }

        var informed = Extension(Accuracy);
        var uninformed = Enumerable.Range(10, 3).Select(i => new SpecTrialSource(spec, 13).Create(i)!).ToList();
        var otherResults = Extension(c => 1 - Accuracy(c));

        Assert.Equal([11, 12, 13], informed.Select(c => c.Id.Index));
        Assert.Equal(informed.Select(c => c.Id), uninformed.Select(c => c.Id));
        Assert.NotEqual(uninformed.Select(c => c.Parameters), informed.Select(c => c.Parameters));
        Assert.NotEqual(otherResults.Select(c => c.Parameters), informed.Select(c => c.Parameters));
        // Learned toward lr 0.01 (the best results); with the results reversed, away from it.
        double Distance(IEnumerable<TrialConfig> cs) => cs.Average(c => Math.Abs(Math.Log10(Lr(c)) + 2));
        Assert.True(Distance(informed) < Distance(otherResults), $"{Distance(informed)} vs {Distance(otherResults)}");
    }

    [Fact]
    public void TpeReplay_LearnsTheJournaledParameters_NotWhatItWouldProposeAgain()
    {
        var spec = Spec(search: "{algorithm: tpe, num_samples: 20}");
        // Journaled trials whose parameters this searcher would not propose (another seed's): what ran is what counts.
        var ran = Run(spec with { Seed = 99 }, 10, Accuracy);
        var own = SpecTrialSource.Preview(spec, 10);
        var resumed = new SpecTrialSource(spec);
        foreach (var t in ran) resumed.Report(t.Config, t.Objective(spec.Objective));
        var sameProcess = new SpecTrialSource(spec); // had proposed (and cached) its own configurations before
        foreach (var c in own) sameProcess.Create(c.Id.Index - 1);
        foreach (var t in ran) sameProcess.Report(t.Config, t.Objective(spec.Objective));
        var pinnedOnOwn = new SpecTrialSource(spec); // the objectives pinned on its own proposals instead
        foreach (var (t, c) in ran.Zip(own)) pinnedOnOwn.Report(c, t.Objective(spec.Objective));

        Assert.NotEqual(own.Select(c => c.Parameters), ran.Select(t => t.Config.Parameters));
        Assert.Equal(resumed.Create(10)!.Parameters, sameProcess.Create(10)!.Parameters);
        Assert.NotEqual(pinnedOnOwn.Create(10)!.Parameters, resumed.Create(10)!.Parameters);
    }

    private static SweepSpec ProgramSpec(string folder) => SpecLoader.LoadText("""
        name: program
        objective: {metric: val_accuracy, mode: max}
        trainable:
          command: [sh, train.sh]
          workdir: ../programs
          dataset: {path: ../data}
          epochs: 2
        parameters:
          trainable.optimizer.lr: {values: [0.1, 0.01]}
        checkpoint: {dir: ../checkpoints}
        """, Path.Combine(folder, "spec.yaml"), folder, new SpecLoader.Options { CheckPaths = false });

    [Fact]
    public void Create_SpecFolderMoved_TrialSettingsAndCheckpointsRelocatedRerunsToo()
    {
        var (a, b) = ("/work/A/configs", "/data/B/configs");
        var before = ProgramSpec(a);
        var configs = SpecTrialSource.Preview(before, 2);
        var checkpoint = new CheckpointRef(1, "/work/A/checkpoints/run-1/t0001/a0001/epoch-0001.ckpt");
        var journaled = new List<TrialRecord>
        {
            Ended(configs[0], 0.5, TrialState.Running) with { Checkpoint = checkpoint, HealthyCheckpoint = checkpoint, FinishedAt = null },
            Ended(configs[1], 0.5, TrialState.Failed, "boom"),
        };
        Assert.Equal("/work/A/programs", configs[0].Trainable.Command!.WorkingDirectory);

        var plan = ResumePlan.Create(ProgramSpec(b), journaled, new ResumeRequest(RerunFailed: true), 2, null, Later,
            new PathMove("/work/A/checkpoints/run-1", "/data/B/checkpoints/run-1"));

        Assert.Equal([1, 2], plan.Relocated.Select(t => t.Id.Index));
        Assert.All(plan.Trials, t => Assert.Equal(("/data/B/programs", "/data/B/data"), (t.Config.Trainable.Command!.WorkingDirectory, t.Config.Trainable.Dataset.Path)));
        Assert.Equal("/data/B/checkpoints/run-1/t0001/a0001/epoch-0001.ckpt", plan.Trials[0].Checkpoint!.Path);
        Assert.Equal(plan.Trials[0].Checkpoint, plan.Trials[0].HealthyCheckpoint);
        Assert.Equal(configs[0].Parameters, plan.Trials[0].Config.Parameters);
        Assert.Equal(configs[0].Trainable with { Command = plan.Trials[0].Config.Trainable.Command, Dataset = plan.Trials[0].Config.Trainable.Dataset },
            plan.Trials[0].Config.Trainable); // nothing else changed
        Assert.Same(plan.Rerun[0], plan.Relocated[1]);
        Assert.Equal(TrialState.Pending, plan.Relocated[1].State);
    }

    [Fact]
    public void Create_NothingMoved_NothingRelocated()
    {
        var spec = ProgramSpec("/work/A/configs");
        var journaled = SpecTrialSource.Preview(spec, 2).Select(c => Ended(c, 0.5)).ToList();

        var plan = ResumePlan.Create(spec, journaled, new ResumeRequest(), 2, null, Later, new PathMove("/work/A/checkpoints/run-1", "/data/B/checkpoints/run-1"));

        Assert.Empty(plan.Relocated);
        Assert.Equal(journaled, plan.Trials);
    }

    /// <summary>Passes through to a source; keeps what the coordinator reports to the searcher.</summary>
    private sealed class RecordingSource(ITrialSource inner) : ITrialSource
    {
        public List<(int Trial, double Objective)> Reports { get; } = [];
        public long? Total => inner.Total;
        public TrialConfig? Create(int index) => inner.Create(index);
        public void Report(TrialConfig trial, double objective)
        {
            Reports.Add((trial.Id.Index, objective));
            inner.Report(trial, objective);
        }
    }
}

internal static class GridSpecs
{
    /// <summary>The spec with its parameters as a 2 × 2 grid (log_uniform has no grid of its own).</summary>
    public static SweepSpec WithGridValues(this SweepSpec spec) => SpecLoader.LoadText(spec.SourceText
        .Replace("{log_uniform: [0.0001, 1.0]}", "{values: [0.001, 0.01]}"), "grid.yaml", Path.GetTempPath());
}
