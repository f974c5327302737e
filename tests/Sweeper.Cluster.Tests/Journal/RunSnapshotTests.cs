using System.Globalization;
using Microsoft.Data.Sqlite;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Tests.Journal;

/// <summary>
/// A run directory read without disturbing its sweep (real SQLite journals, the real lock): running, finished or
/// interrupted, and the errors of folders that are not readable run directories. Across processes see the CLI's
/// StatusCommandTests.
/// </summary>
public sealed class RunSnapshotTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-snapshot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string SpecText = """
        name: snap
        objective: {metric: val_accuracy, mode: max}
        trainable: {model: synthetic, epochs: 2}
        parameters:
          trainable.optimizer.lr: {values: [0.1, 0.2, 0.3]}
        resources: {max_concurrent_trials: 2}
        stop: {max_minutes: 30}
        """;

    private static EpochResult Epoch(int n, double acc) => new(n, new Dictionary<string, double> { [MetricNames.ValAccuracy] = acc }, TimeSpan.FromSeconds(1));

    /// <summary>A run directory <paramref name="name"/> whose journal holds the spec's three trials in <paramref name="states"/>.</summary>
    private RunDirectory Run(string name, DateTimeOffset started, string? stopReason, params TrialState[] states) =>
        Run(name, started, stopReason, interrupted: false, states);

    private RunDirectory Run(string name, DateTimeOffset started, string? stopReason, bool interrupted, params TrialState[] states)
    {
        var path = Path.Combine(_dir, name);
        Directory.CreateDirectory(path);
        var spec = SpecLoader.LoadText(SpecText, Path.Combine(path, "spec.yaml"), path);
        var source = new SpecTrialSource(spec);
        using var journal = SweepJournal.Create(path, spec, started);
        var entries = new List<JournalEntry>();
        for (int i = 0; i < states.Length; i++)
        {
            var config = source.Create(i)!;
            entries.Add(new JournalEntry.NewTrial(config));
            var epochs = states[i] == TrialState.Pending ? 0 : states[i] == TrialState.Running ? 1 : 2;
            entries.Add(new JournalEntry.TrialRow(new TrialRecord
            {
                Config = config, State = states[i], Worker = states[i] == TrialState.Pending ? null : "node-a",
                StartedAt = states[i] == TrialState.Pending ? null : started, FinishedAt = states[i].IsTerminal() ? started.AddSeconds(10 + i) : null,
                Interrupted = interrupted && states[i] == TrialState.Stopped,
            }));
            for (int e = 1; e <= epochs; e++) entries.Add(new JournalEntry.EpochRow(config.Id, Epoch(e, 0.5 + 0.1 * i)));
        }
        if (stopReason is not null) entries.Add(new JournalEntry.MetaValue("stop_reason", stopReason));
        journal.Write(entries);
        return RunDirectory.At(path);
    }

    [Fact]
    public void Read_LockHeld_RunningWithTheHolderTrialsAndEta()
    {
        var run = Run("a", T0, null, TrialState.Completed, TrialState.Running);
        using var held = RunDirectoryLock.Acquire(run);

        var s = RunSnapshot.Read(run, T0.AddSeconds(30));

        Assert.Equal(RunState.Running, s.State);
        Assert.Equal(Environment.ProcessId, s.Holder?.Pid);
        Assert.Equal("snap", s.Name);
        Assert.Equal(3, s.Progress.Total);
        Assert.Equal(1, s.Progress.Finished);
        var running = Assert.Single(s.Progress.Running);
        Assert.Equal(1, running.Last?.Epoch);
        Assert.Equal("node-a", running.Worker);
        Assert.Equal(1, s.Progress.Best?.Id.Index);
        Assert.Equal(2, s.Concurrency);
        Assert.Equal(TimeSpan.FromSeconds(2), s.Eta); // t0002's last epoch beside the one trial not created yet (2 epochs of 1 s)
        Assert.Equal(TimeSpan.FromSeconds(30), s.Elapsed);
        Assert.Null(s.EndedAt);
    }

    [Fact]
    public void Read_LockReleased_NotRunningAny()
    {
        var run = Run("a", T0, null, TrialState.Completed, TrialState.Running);
        RunDirectoryLock.Acquire(run).Dispose();

        var s = RunSnapshot.Read(run);

        Assert.Equal(RunState.Interrupted, s.State);
        Assert.Null(s.Holder);
        Assert.Null(s.Eta);
        Assert.Equal(T0.AddSeconds(10), s.EndedAt); // its last trial's end
    }

    [Fact]
    public void Read_LockFileNamingALiveProcessButNoLockHeld_NotRunning()
    {
        // What a holder wrote stays in the file after it ends; the system's lock table, not the file, says who holds it.
        if (!OperatingSystem.IsLinux()) return; // the lock table is asked on Linux only (elsewhere the file is all there is)
        var run = Run("a", T0, null, TrialState.Completed, TrialState.Running);
        File.WriteAllText(run.PathOf(RunDirectoryLock.FileName), $"{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)} {Environment.MachineName}\n");

        Assert.Null(RunDirectoryLock.Probe(run));
        Assert.Equal(RunState.Interrupted, RunSnapshot.Read(run).State);
    }

    [Fact]
    public void Read_EveryPlannedTrialFinished_Finished()
    {
        var s = RunSnapshot.Read(Run("a", T0, null, TrialState.Completed, TrialState.Failed, TrialState.Completed));

        Assert.Equal(RunState.Finished, s.State);
        Assert.Equal(3, s.Progress.Best?.Id.Index);
        Assert.Equal(T0.AddSeconds(12), s.EndedAt);
    }

    [Fact]
    public void Read_StoppedByTheUserBeforeThePlanRan_InterruptedWithTheReason()
    {
        // Every trial it had started ended, but t0003 was never created: sweeper resume runs it.
        var s = RunSnapshot.Read(Run("a", T0, "cancelled by the user", TrialState.Completed, TrialState.Stopped));

        Assert.Equal(RunState.Interrupted, s.State);
        Assert.Equal("cancelled by the user", s.StopReason);
    }

    [Fact]
    public void Read_StopReasonButEveryPlannedTrialEnded_FinishedWithTheReason()
    {
        var s = RunSnapshot.Read(Run("a", T0, "cancelled by the user", TrialState.Completed, TrialState.Stopped, TrialState.Completed));

        Assert.Equal(RunState.Finished, s.State);
        Assert.Equal("cancelled by the user", s.StopReason);
    }

    [Fact]
    public void Read_EndedByTheTimeBudget_FinishedBeforeThePlanRan()
    {
        var s = RunSnapshot.Read(Run("a", T0, "time budget of 30 min used up", TrialState.Completed, TrialState.Stopped));

        Assert.Equal(RunState.Finished, s.State);
    }

    [Fact]
    public void Read_StoppedByAnInterruption_InterruptedWithTheReason()
    {
        var s = RunSnapshot.Read(Run("a", T0, "cancelled by the user", interrupted: true, TrialState.Completed, TrialState.Stopped));

        Assert.Equal(RunState.Interrupted, s.State); // sweeper resume continues the interrupted trial
        Assert.Equal("cancelled by the user", s.StopReason);
    }

    [Fact]
    public void Read_TrialsLeftWithoutAStopReason_Interrupted()
    {
        Assert.Equal(RunState.Interrupted, RunSnapshot.Read(Run("a", T0, null, TrialState.Completed, TrialState.Completed)).State);
    }

    [Fact]
    public void Read_WhileAnotherConnectionHoldsAWriteTransaction_ReadsTheLastCommitAndTheWriterCommits()
    {
        var run = Run("a", T0, null, TrialState.Completed, TrialState.Running);
        using var writer = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = run.JournalPath, Pooling = false }.ToString());
        writer.Open();
        using var tx = writer.BeginTransaction(); // BEGIN IMMEDIATE: the write lock is held
        using (var cmd = writer.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = "UPDATE trials SET state = 'Completed' WHERE id = 2";
            cmd.ExecuteNonQuery();
        }

        var during = RunSnapshot.Read(run);
        tx.Commit(); // the reader never held anything the writer needs

        Assert.Equal(TrialState.Running, during.Progress.Result.Trials[1].State);
        Assert.Equal(TrialState.Completed, RunSnapshot.Read(run).Progress.Result.Trials[1].State);
    }

    [Fact]
    public void Read_LeavesTheJournalAsItWas()
    {
        var run = Run("a", T0, null, TrialState.Completed, TrialState.Running);
        var before = File.ReadAllBytes(run.JournalPath);
        var lockFile = run.PathOf(RunDirectoryLock.FileName);

        RunSnapshot.Read(run);

        Assert.Equal(before, File.ReadAllBytes(run.JournalPath));
        Assert.False(File.Exists(lockFile)); // probing never creates the lock
    }

    [Fact]
    public void Read_NotARunDirectory_OneLineErrors()
    {
        var plain = Directory.CreateDirectory(Path.Combine(_dir, "plain")).FullName;
        var file = Path.Combine(_dir, "file.txt");
        File.WriteAllText(file, "x");

        Assert.Contains("is not a Sweeper run directory", Assert.Throws<RunSnapshotException>(() => RunSnapshot.Read(RunDirectory.At(plain))).Message);
        Assert.Contains("does not exist", Assert.Throws<RunSnapshotException>(() => RunSnapshot.Read(RunDirectory.At(Path.Combine(_dir, "missing")))).Message);
        Assert.Contains("is a file", Assert.Throws<RunSnapshotException>(() => RunSnapshot.Read(RunDirectory.At(file))).Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(4096)]
    public void Read_TruncatedJournal_CannotReadNamingTheJournal(int keep)
    {
        var run = Run("a", T0, null, TrialState.Completed, TrialState.Running);
        SqliteConnection.ClearAllPools();
        foreach (var side in new[] { "-wal", "-shm" }) File.Delete(run.JournalPath + side);
        var bytes = File.ReadAllBytes(run.JournalPath);
        File.WriteAllBytes(run.JournalPath, bytes[..Math.Min(keep, bytes.Length)]);

        var ex = Assert.Throws<RunSnapshotException>(() => RunSnapshot.Read(run));

        Assert.StartsWith("cannot read " + run.JournalPath + ": ", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Newest_TwoRuns_TheOneStartedLastWhateverItsName()
    {
        Run("z-older", T0, null, TrialState.Completed);
        Run("a-newer", T0.AddHours(1), null, TrialState.Completed);
        Directory.CreateDirectory(Path.Combine(_dir, "not-a-run"));

        Assert.Equal(Path.Combine(_dir, "a-newer"), RunSnapshot.Newest(_dir)?.Path);
        Assert.Equal(["a-newer", "z-older"], RunSnapshot.RunsIn(_dir).Select(r => Path.GetFileName(r.Path)));
        Assert.Equal(T0.AddHours(1), RunSnapshot.StartedAtOf(RunDirectory.At(Path.Combine(_dir, "a-newer"))));
    }
}
