using Akka.Actor;
using Akka.TestKit.Xunit2;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Journal;
using Sweeper.Cluster.Messages;
using Sweeper.Cluster.Serialization;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Cluster.Tests.Journal;

public sealed class SweepJournalTests() : TestKit("akka.actor.serialize-messages = on\n" + SweeperMessageSerializer.Hocon), IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-journal-").FullName;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Directory.Delete(_dir, recursive: true);
    }

    private static EpochResult Epoch(int n, double acc) =>
        new(n, new Dictionary<string, double> { [MetricNames.TestAccuracy] = acc, ["nan"] = double.NaN }, TimeSpan.FromMilliseconds(7));

    [Fact]
    public void Write_ThenLoad_EveryFieldBack()
    {
        var spec = TestSpecs.Spec() with { SourceText = "name: test\n", SourcePath = "/x/spec.yaml" };
        var trials = TestSpecs.Trials(spec, 0.1, 0.01);
        var started = DateTimeOffset.Parse("2026-11-26T10:00:00Z");
        using (var journal = SweepJournal.Create(_dir, spec, started))
        {
            journal.Write(trials.Select(t => (JournalEntry)new JournalEntry.NewTrial(t)).ToList());
            var t1 = new TrialRecord
            {
                Config = trials[0], State = TrialState.Completed, Worker = "w", StartedAt = started, FinishedAt = started.AddSeconds(9),
                Checkpoint = new CheckpointRef(2, "/c/t0001/epoch-0002.ckpt"), Resumes = [new TrialResume(1, "worker gone", started.AddSeconds(3))],
            };
            journal.Write([new JournalEntry.TrialRow(t1), new JournalEntry.EpochRow(t1.Id, Epoch(1, 0.5)), new JournalEntry.EpochRow(t1.Id, Epoch(2, 0.6)),
                           new JournalEntry.EpochRow(t1.Id, Epoch(3, 0.1)), new JournalEntry.DropEpochsAfter(t1.Id, 2)]);
        }

        using var reopened = SweepJournal.Open(_dir);
        var state = reopened.Load();

        Assert.Equal("name: test\n", state.SpecText);
        Assert.Equal("/x/spec.yaml", state.SpecPath);
        Assert.Equal(started, state.StartedAt);
        Assert.Equal(2, state.Trials.Count);
        var back = state.Trials[0];
        Assert.Equal(TrialState.Completed, back.State);
        Assert.Equal(trials[0].Parameters, back.Config.Parameters);
        Assert.Equal(trials[0].Trainable, back.Config.Trainable);
        Assert.Equal([1, 2], back.Epochs.Select(e => e.Epoch));
        Assert.Equal(0.6, back.Epochs[1].Get(MetricNames.TestAccuracy));
        Assert.True(double.IsNaN(back.Epochs[1].Get("nan")));
        Assert.Equal(new CheckpointRef(2, "/c/t0001/epoch-0002.ckpt"), back.Checkpoint);
        Assert.Equal(new TrialResume(1, "worker gone", started.AddSeconds(3)), Assert.Single(back.Resumes));
        Assert.Equal(TrialState.Pending, state.Trials[1].State);
    }

    [Fact]
    public void Write_CheckpointsInsideTheRun_KeptRelativeAndResolvedWhereTheRunIsNow()
    {
        var spec = TestSpecs.Spec() with { SourceText = "name: test\n", SourcePath = "/x/spec.yaml" };
        var config = TestSpecs.Trials(spec, 0.1)[0];
        var run = Path.Combine(_dir, "run");
        Directory.CreateDirectory(run);
        string Inside(int epoch) => Path.Combine(run, "checkpoints", "t0001", "a0002", CheckpointStore.FileName(epoch));
        var outside = Path.Combine(_dir, "shared", "run", "t0001", "a0001", CheckpointStore.FileName(1));
        using (var journal = SweepJournal.Create(run, spec, DateTimeOffset.UnixEpoch))
        {
            journal.Write([new JournalEntry.NewTrial(config), new JournalEntry.TrialRow(new TrialRecord
            {
                Config = config, State = TrialState.Running, Checkpoint = new CheckpointRef(3, Inside(3)), HealthyCheckpoint = new CheckpointRef(1, outside),
                Attempts = [new TrialAttempt { Number = 1 }, new TrialAttempt { Number = 2, FromEpoch = 2, ParentCheckpoint = Inside(2) }],
            })]);
        }
        var copy = Path.Combine(_dir, "copy");
        Directory.CreateDirectory(copy);
        File.Copy(Path.Combine(run, SweepJournal.FileName), Path.Combine(copy, SweepJournal.FileName));
        Directory.Delete(run, recursive: true);

        using var copied = SweepJournal.Open(copy);
        var back = Assert.Single(copied.Load().Trials);

        Assert.Equal(new CheckpointRef(3, Path.Combine(copy, "checkpoints", "t0001", "a0002", "epoch-0003.ckpt")), back.Checkpoint);
        Assert.Equal(Path.Combine(copy, "checkpoints", "t0001", "a0002", "epoch-0002.ckpt"), back.Attempts[1].ParentCheckpoint);
        Assert.Equal(new CheckpointRef(1, outside), back.HealthyCheckpoint); // outside the run: absolute, as it was
        Assert.Equal("checkpoints/t0001/a0002/epoch-0003.ckpt", copied.Stored(Path.Combine(copy, "checkpoints", "t0001", "a0002", "epoch-0003.ckpt")));
        Assert.Equal(outside, copied.Stored(outside));
    }

    [Fact]
    public void Create_SpecFolderKeptRelativeToTheRun_MovedTogetherResolvedWhereTheyAreNow()
    {
        var a = Path.Combine(_dir, "A");
        Directory.CreateDirectory(Path.Combine(a, "configs"));
        var run = Path.Combine(a, "runs", "sweep-1");
        Directory.CreateDirectory(run);
        var spec = TestSpecs.Spec() with { SourceText = "name: test\n", SourcePath = Path.Combine(a, "configs", "spec.yaml") };
        using (SweepJournal.Create(run, spec, DateTimeOffset.UnixEpoch)) { }
        var b = Path.Combine(_dir, "B");
        Directory.Move(a, b);

        using var moved = SweepJournal.Open(Path.Combine(b, "runs", "sweep-1"));
        var state = moved.Load();

        Assert.Equal(Path.Combine(b, "configs"), state.SpecDirectory);
        Assert.True(state.SpecDirectoryMoved);
        Assert.Equal(Path.Combine(a, "configs", "spec.yaml"), state.SpecPath); // as written, for the record
        Assert.Equal("../../configs", SweepJournal.SpecDirectoryFrom(run, spec.SourcePath));
    }

    [Fact]
    public void Load_RunMovedWithoutItsSpecFolder_TheOriginalFolder()
    {
        var configs = Directory.CreateDirectory(Path.Combine(_dir, "A", "configs")).FullName;
        var run = Directory.CreateDirectory(Path.Combine(_dir, "A", "runs", "sweep-1")).FullName;
        var spec = TestSpecs.Spec() with { SourceText = "name: test\n", SourcePath = Path.Combine(configs, "spec.yaml") };
        using (SweepJournal.Create(run, spec, DateTimeOffset.UnixEpoch)) { }
        var elsewhere = Path.Combine(_dir, "elsewhere", "sweep-1");
        Directory.CreateDirectory(Path.GetDirectoryName(elsewhere)!);
        Directory.Move(run, elsewhere);

        using var journal = SweepJournal.Open(elsewhere);
        var state = journal.Load();

        Assert.Equal(configs, state.SpecDirectory);
        Assert.False(state.SpecDirectoryMoved);
    }

    [Fact]
    public void Load_JournalFromBeforeSpecDir_TheSpecsOriginalFolder()
    {
        var spec = TestSpecs.Spec() with { SourceText = "name: test\n", SourcePath = Path.Combine(_dir, "configs", "spec.yaml") };
        using (SweepJournal.Create(_dir, spec, DateTimeOffset.UnixEpoch)) { }
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_dir, SweepJournal.FileName)};Pooling=False"))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = $"DELETE FROM meta WHERE key='{SweepJournal.SpecDirKey}'";
            Assert.Equal(1, cmd.ExecuteNonQuery());
        }

        using var journal = SweepJournal.Open(_dir);
        var state = journal.Load();

        Assert.Equal(Path.Combine(_dir, "configs"), state.SpecDirectory);
        Assert.False(state.SpecDirectoryMoved);
        Assert.Null(state.TrialLimit);
        Assert.Null(state.BudgetFrom);
    }

    [Fact]
    public void Apply_ResumePlan_RerunRowRewrittenItsEpochsDroppedLimitBudgetAndTargetKeptStopReasonCleared()
    {
        var spec = TestSpecs.Spec() with { SourceText = "name: test\n", SourcePath = "/x/spec.yaml" };
        var trials = TestSpecs.Trials(spec, 0.1, 0.01);
        var at = DateTimeOffset.Parse("2026-11-26T10:00:00Z");
        TrialRecord Ended(TrialConfig c, TrialState state, string? reason) => new()
        {
            Config = c, State = state, Reason = reason, Assignment = 2, StartedAt = at, FinishedAt = at,
            Attempts = [new TrialAttempt { Number = 1, StartedAt = at, LastEpoch = 2 }], Crashes = [new TrialCrash("boom", 1, at)],
        };
        var failed = Ended(trials[1], TrialState.Failed, "boom");
        using (var journal = SweepJournal.Create(_dir, spec, at))
        {
            journal.Write([.. trials.Select(t => (JournalEntry)new JournalEntry.NewTrial(t)), new JournalEntry.TrialRow(Ended(trials[0], TrialState.Completed, null)),
                new JournalEntry.TrialRow(failed), new JournalEntry.MetaValue(SweepJournal.StopReasonKey, "target reached by t0001"),
                .. new[] { 1, 2 }.SelectMany(e => trials.Select(t => (JournalEntry)new JournalEntry.EpochRow(t.Id, Epoch(e, 0.5))))]);
            var rerun = ResumePlan.RerunOf(failed, at.AddDays(1));
            journal.Apply(new ResumePlan
            {
                Trials = [], Rerun = [rerun], TrialLimit = 5, FirstNewTrial = 3, BudgetFrom = at.AddDays(1),
                EndsStop = "target reached by t0001", IgnoreTarget = true,
            });
        }

        using var reopened = SweepJournal.Open(_dir);
        var state = reopened.Load();

        var back = state.Trials[1];
        Assert.Equal(TrialState.Pending, back.State);
        Assert.Empty(back.Epochs);
        Assert.Equal([false, true], back.Attempts.Select(a => a.Rerun));
        Assert.Equal("failed: boom", back.Attempts[0].Outcome);
        Assert.Equal(failed.Crashes, back.Crashes);
        Assert.Equal(2, back.Assignment);
        Assert.Null(back.Reason);
        Assert.Equal(trials[1].Trainable, back.Config.Trainable);
        Assert.Equal([1, 2], state.Trials[0].Epochs.Select(e => e.Epoch)); // the others untouched
        Assert.Equal(TrialState.Completed, state.Trials[0].State);
        Assert.Equal(5, state.TrialLimit);
        Assert.Equal(at.AddDays(1), state.BudgetFrom);
        Assert.Equal("target reached by t0001", state.TargetReached);
        Assert.Null(state.StopReason);
    }

    [Fact]
    public void Load_EpochDurationsFromMilliseconds_ToTheTick()
    {
        var spec = TestSpecs.Spec() with { SourceText = "name: test\n", SourcePath = "/x/spec.yaml" };
        var trials = TestSpecs.Trials(spec, 0.1, 0.01);
        var exact = TimeSpan.FromTicks(12345711); // 1234.5711 ms: its TotalMilliseconds does not come back exactly through FromMilliseconds
        var epoch = new EpochResult(1, new Dictionary<string, double> { [MetricNames.TestAccuracy] = 0.5 }, exact);
        using var journal = SweepJournal.Create(_dir, spec, DateTimeOffset.UnixEpoch);
        journal.Write([.. trials.Select(t => (JournalEntry)new JournalEntry.NewTrial(t)), new JournalEntry.EpochRow(trials[1].Id, epoch),
                       new JournalEntry.EpochRow(trials[1].Id, Epoch(2, 0.6))]);

        var epochs = journal.Load().Trials[1].Epochs;

        Assert.Equal(2, epochs.Count);
        Assert.Equal(exact, epochs[0].Duration);
        Assert.NotEqual(exact, TimeSpan.FromMilliseconds(exact.TotalMilliseconds)); // what the loader must not do
        Assert.Equal(TimeSpan.FromMilliseconds(7), epochs[1].Duration);
    }

    /// <summary>Epoch rows (written through SQLite's own API, not a command) wait for a lock another connection holds and are written once it is released.</summary>
    [Fact]
    public async Task Write_EpochRowsWhileLockedBriefly_WrittenOnceReleased()
    {
        var spec = TestSpecs.Spec();
        var trials = TestSpecs.Trials(spec, 0.1, 0.01);
        using var journal = SweepJournal.Create(_dir, spec, DateTimeOffset.UnixEpoch);
        journal.Write([.. trials.Select(t => (JournalEntry)new JournalEntry.NewTrial(t))]);
        journal.SetBusyTimeout(TimeSpan.FromSeconds(20));

        var locker = JournalLock.Hold(_dir);
        var release = Task.Run(async () => { await Task.Delay(300); locker.Dispose(); });
        journal.Write([new JournalEntry.EpochRow(trials[0].Id, Epoch(1, 0.5)), new JournalEntry.EpochRow(trials[0].Id, Epoch(2, 0.625))]);
        await release.WaitAsync(Wait);

        var epochs = journal.Load().Trials[0].Epochs;
        Assert.Equal([0.5, 0.625], epochs.Select(e => e.Metrics[MetricNames.TestAccuracy]));
        Assert.True(double.IsNaN(epochs[1].Metrics["nan"]));
    }

    /// <summary>Locked past the busy timeout: the batch fails with SQLite's own error and leaves nothing of itself in the journal.</summary>
    [Fact]
    public void Write_EpochRowsLockedPastTheTimeout_DatabaseIsLockedNothingWritten()
    {
        var spec = TestSpecs.Spec();
        var trials = TestSpecs.Trials(spec, 0.1, 0.01);
        using var journal = SweepJournal.Create(_dir, spec, DateTimeOffset.UnixEpoch);
        journal.Write([.. trials.Select(t => (JournalEntry)new JournalEntry.NewTrial(t)), new JournalEntry.EpochRow(trials[0].Id, Epoch(1, 0.5))]);
        journal.SetBusyTimeout(TimeSpan.FromSeconds(1));

        using (JournalLock.Hold(_dir))
        {
            var error = Assert.Throws<Microsoft.Data.Sqlite.SqliteException>(() =>
                journal.Write([new JournalEntry.EpochRow(trials[0].Id, Epoch(2, 0.6)), new JournalEntry.EpochRow(trials[1].Id, Epoch(1, 0.7))]));
            Assert.Contains("database is locked", error.Message);
        }

        var loaded = journal.Load().Trials;
        Assert.Equal([1], loaded[0].Epochs.Select(e => e.Epoch));
        Assert.Empty(loaded[1].Epochs);
        journal.Write([new JournalEntry.EpochRow(trials[0].Id, Epoch(2, 0.6))]); // the statement is usable again
        Assert.Equal([1, 2], journal.Load().Trials[0].Epochs.Select(e => e.Epoch));
    }

    /// <summary>
    /// A journal on a file system that fills up (a 1 MiB tmpfs; the tests run as root): the batch that does not fit fails
    /// with SQLite's own error and leaves nothing of itself, what was committed before stays readable, and once there is
    /// room again the same batch is written.
    /// </summary>
    [Fact]
    public void Write_EpochRowsOnAFullDisk_DiskFullNothingOfTheBatchThenWrittenOnceThereIsRoom()
    {
        var mount = Directory.CreateTempSubdirectory("sweeper-full-").FullName;
        Run("mount", $"-t tmpfs -o size=1m tmpfs {mount}");
        try
        {
            var run = Directory.CreateDirectory(Path.Combine(mount, "run")).FullName;
            var spec = TestSpecs.Spec();
            var trials = TestSpecs.Trials(spec, 0.1, 0.01);
            using (var journal = SweepJournal.Create(run, spec, DateTimeOffset.UnixEpoch))
            {
                journal.Write([.. trials.Select(t => (JournalEntry)new JournalEntry.NewTrial(t)), new JournalEntry.EpochRow(trials[0].Id, Epoch(1, 0.5))]);
                var filler = Path.Combine(mount, "filler");
                Fill(filler);
                var metrics = Enumerable.Range(0, 40).ToDictionary(i => $"quant.layer.{i}.exponent_mean", i => i * 0.37);
                JournalEntry[] batch = [.. Enumerable.Range(2, 400).Select(e => (JournalEntry)new JournalEntry.EpochRow(trials[0].Id, new EpochResult(e, metrics, TimeSpan.FromMilliseconds(3))))];

                var error = Assert.Throws<Microsoft.Data.Sqlite.SqliteException>(() => journal.Write(batch));
                Assert.Contains("full", error.Message);
                Assert.Equal([1], journal.Load().Trials[0].Epochs.Select(e => e.Epoch));

                File.Delete(filler);
                journal.Write(batch);
                Assert.Equal(401, journal.Load().Trials[0].Epochs.Count);
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Run("umount", mount);
            Directory.Delete(mount);
        }

        static void Fill(string path)
        {
            using var file = File.Create(path);
            var block = new byte[4096];
            try
            {
                while (true) file.Write(block);
            }
            catch (IOException)
            {
                // the file system is full
            }
        }

        static void Run(string command, string arguments)
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(command, arguments) { RedirectStandardError = true })!;
            var stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"{command} {arguments}: exit {process.ExitCode}: {stderr} (this test mounts a tmpfs: it runs as root)");
        }
    }

    [Fact]
    public void Open_JournalFromBeforeAssignmentsWereKept_MigratedTheyReadAsZeroThenKept()
    {
        var spec = TestSpecs.Spec();
        var trial = TestSpecs.Trials(spec, 0.1)[0];
        using (var journal = SweepJournal.Create(_dir, spec, DateTimeOffset.UnixEpoch))
            journal.Write([new JournalEntry.NewTrial(trial)]);
        using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_dir, SweepJournal.FileName)};Pooling=False"))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            cmd.CommandText = "ALTER TABLE trials DROP COLUMN assignment"; // the schema of format 1 before the column
            cmd.ExecuteNonQuery();
        }

        using (var journal = SweepJournal.Open(_dir))
        {
            Assert.Equal(0, Assert.Single(journal.Load().Trials).Assignment);
            journal.Write([new JournalEntry.TrialRow(new TrialRecord { Config = trial, State = TrialState.Running, Assignment = 3 })]);
        }
        using (var journal = SweepJournal.Open(_dir))
            Assert.Equal(3, Assert.Single(journal.Load().Trials).Assignment);
    }

    [Fact]
    public void Open_NoJournal_ClearError()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => SweepJournal.Open(_dir));
        Assert.Contains("no journal in", ex.Message);
    }

    [Fact]
    public void Coordinator_RestartedOnItsRunDirectory_KeepsFinishedRequeuesInterruptedFromCheckpoint()
    {
        var spec = TestSpecs.Spec(maxConcurrent: 2, epochs: 3);
        var trials = TestSpecs.Trials(spec, 0.1, 0.01, 0.001);
        var options = new CoordinatorOptions(_dir, Path.Combine(_dir, "checkpoints"));

        // First life: trial 1 completes; trial 2 checkpoints after epoch 1, runs epoch 2, then the coordinator dies.
        var first = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(trials), options));
        var worker = CreateTestProbe();
        first.Tell(new WorkerCommands.RegisterWorker("node-a", 2), worker);
        worker.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        worker.ReceiveN(2, Wait);
        for (int e = 1; e <= 3; e++) first.Tell(new TrialEvents.EpochCompleted(new TrialId(1), 1, Epoch(e, 0.5 + e / 10.0)));
        first.Tell(new TrialEvents.TrialCompleted(new TrialId(1), 1));
        Assert.Equal(3, worker.ExpectMsg<WorkerCommands.AssignTrial>(Wait).Config.Id.Index);
        first.Tell(new TrialEvents.EpochCompleted(new TrialId(2), 1, Epoch(1, 0.3)));
        first.Tell(new TrialEvents.CheckpointSaved(new TrialId(2), 1, new CheckpointRef(1, "/c/t0002/epoch-0001.ckpt")));
        first.Tell(new TrialEvents.EpochCompleted(new TrialId(2), 1, Epoch(2, 0.4)));
        var probe = CreateTestProbe();
        first.Tell(SweepQueries.Subscribe.Instance, probe); // flushes: everything above is journaled
        probe.ReceiveN(3, Wait);
        Assert.Equal(1, ExpectMsg<WorkerCommands.CheckpointRecorded>(Wait).Epoch); // to the checkpoint's sender, once journaled
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first, Wait);

        // Second life on the same run directory.
        var second = Sys.ActorOf(SweepCoordinatorActor.Props(spec, new FixedTrialSource(trials), options));
        var rescuer = CreateTestProbe();
        second.Tell(new WorkerCommands.RegisterWorker("node-b", 3), rescuer);
        rescuer.ExpectMsg<WorkerCommands.WorkerRegistered>(Wait);
        var assigned = rescuer.ReceiveN(2, Wait).Cast<WorkerCommands.AssignTrial>().OrderBy(a => a.Config.Id.Index).ToList();

        Assert.Equal([2, 3], assigned.Select(a => a.Config.Id.Index)); // trial 1 is not run again
        Assert.Equal(new CheckpointRef(1, "/c/t0002/epoch-0001.ckpt"), assigned[0].ResumeFrom);
        Assert.Null(assigned[1].ResumeFrom);
        var subscriber = CreateTestProbe();
        second.Tell(SweepQueries.Subscribe.Instance, subscriber);
        var snapshot = subscriber.ReceiveN(3, Wait).Cast<SweepQueries.TrialUpdated>().Select(u => u.Trial).ToList();
        Assert.Equal(TrialState.Completed, snapshot[0].State);
        Assert.Equal([1, 2, 3], snapshot[0].Epochs.Select(e => e.Epoch));
        Assert.Equal([1], snapshot[1].Epochs.Select(e => e.Epoch)); // epoch 2 was after the checkpoint: it runs again
        Assert.Equal(1, Assert.Single(snapshot[1].Resumes).FromEpoch);
        Assert.Equal("the coordinator restarted", snapshot[1].Resumes[0].Reason);
    }
}
