using System.Text.Json;
using Microsoft.Data.Sqlite;
using Sweeper.Core.Model;
using Sweeper.Core.Reporting;
using Sweeper.Core.Spec;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Journal;

/// <summary>Whether a run directory's sweep is running now, ended, or was cut off.</summary>
public enum RunState
{
    /// <summary>A process holds the run directory's lock (<see cref="RunDirectoryLock"/>): <c>sweeper run</c> or <c>resume</c> is at work.</summary>
    Running,
    /// <summary>Nobody holds it, and the sweep ended: every trial finished, and the trials ran out or the sweep stopped early with a reason.</summary>
    Finished,
    /// <summary>Nobody holds it, and the sweep did not end (its process died or was killed, or it was stopped by <c>sweeper stop</c>, Ctrl+C or SIGTERM): <c>sweeper resume</c> continues it.</summary>
    Interrupted,
}

/// <summary>
/// A run directory as it is now, read without disturbing a sweep that may be running in another process: the journal
/// is opened read-only and read in one transaction (<see cref="SweepJournal.OpenReadOnly"/>), and the directory's lock
/// is only probed (<see cref="RunDirectoryLock.Probe"/>), never taken. Behind <c>sweeper status</c> and <c>sweeper ls</c>.
/// </summary>
public sealed record RunSnapshot
{
    public required RunDirectory Run { get; init; }

    /// <summary>The sweep's name (from its spec).</summary>
    public required string Name { get; init; }

    public required RunState State { get; init; }

    /// <summary>The process running the sweep (<see cref="RunState.Running"/> only).</summary>
    public RunDirectoryHolder? Holder { get; init; }

    /// <summary>The trials as journaled, against the planned total.</summary>
    public required SweepProgress Progress { get; init; }

    /// <summary>How many trials run at once: those running now, and at least the spec's <c>resources.max_concurrent_trials</c>.</summary>
    public required int Concurrency { get; init; }

    /// <summary>When the sweep ended (finished: results.json's end, else its last trial's; interrupted: the newest event its journal holds), or null while it runs.</summary>
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>When this snapshot was taken.</summary>
    public required DateTimeOffset TakenAt { get; init; }

    /// <summary>Why the sweep stopped early, if it did.</summary>
    public string? StopReason => Progress.Result.StopReason;

    public DateTimeOffset StartedAt => Progress.Result.StartedAt;

    /// <summary>From the sweep's first start to its end, or to now while it runs.</summary>
    public TimeSpan Elapsed => (EndedAt ?? TakenAt) - StartedAt;

    /// <summary>The time the sweep still needs while it runs (see <see cref="SweepProgress.Eta"/>, capped by the time budget <c>stop.max_minutes</c>); null when unknown or not running.</summary>
    public TimeSpan? Eta { get; init; }

    /// <summary>What the reader had to assume (the spec no longer loads, ...).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Whether <paramref name="path"/> is a folder holding a journal.</summary>
    public static bool IsRunDirectory(string path) => Directory.Exists(path) && RunDirectory.At(path).HasJournal;

    /// <summary>
    /// Reads <paramref name="run"/>. Throws <see cref="RunSnapshotException"/> (one line) for a missing folder, a folder
    /// that is not a run directory, and a journal that cannot be read (truncated, corrupt, of another format).
    /// </summary>
    public static RunSnapshot Read(RunDirectory run, DateTimeOffset? now = null)
    {
        Check(run);
        // A sweep that ends while its journal is read is read again: its last writes belong to the answer.
        var holder = RunDirectoryLock.Probe(run);
        var journal = LoadJournal(run);
        if (holder is not null && RunDirectoryLock.Probe(run) is null)
        {
            holder = null;
            journal = LoadJournal(run);
        }
        return From(run, journal, holder, now ?? DateTimeOffset.UtcNow);
    }

    /// <summary>When the sweep in <paramref name="run"/> first started (its journal's start), for choosing the newest run; throws like <see cref="Read"/>.</summary>
    public static DateTimeOffset StartedAtOf(RunDirectory run)
    {
        Check(run);
        return Guard(run, () =>
        {
            using var journal = SweepJournal.OpenReadOnly(run.Path);
            return journal.StartedAt();
        });
    }

    /// <summary>The run directories directly in <paramref name="folder"/> (subfolders holding a journal), by name; other folders are skipped.</summary>
    public static IReadOnlyList<RunDirectory> RunsIn(string folder) =>
        Directory.EnumerateDirectories(folder).Where(d => RunDirectory.At(d).HasJournal).Order(StringComparer.Ordinal).Select(RunDirectory.At).ToList();

    /// <summary>
    /// The run directory in <paramref name="folder"/> whose sweep started last (by its journal's start time), or null
    /// when there is none; runs whose journal cannot be read are passed over.
    /// </summary>
    public static RunDirectory? Newest(string folder)
    {
        RunDirectory? newest = null;
        var newestStart = DateTimeOffset.MinValue;
        foreach (var run in RunsIn(folder))
        {
            DateTimeOffset started;
            try { started = StartedAtOf(run); }
            catch (RunSnapshotException) { continue; }
            if (newest is null || started > newestStart) (newest, newestStart) = (run, started);
        }
        return newest;
    }

    private static void Check(RunDirectory run)
    {
        if (File.Exists(run.Path)) throw new RunSnapshotException($"'{run.Path}' is a file, not a run directory");
        if (!Directory.Exists(run.Path)) throw new RunSnapshotException($"run directory '{run.Path}' does not exist");
        if (!run.HasJournal) throw new RunSnapshotException($"'{run.Path}' is not a Sweeper run directory: it holds no {RunDirectory.JournalFile}");
    }

    private static JournalState LoadJournal(RunDirectory run) => Guard(run, () =>
    {
        using var journal = SweepJournal.OpenReadOnly(run.Path);
        return journal.Load();
    });

    private static T Guard<T>(RunDirectory run, Func<T> read)
    {
        try { return read(); }
        catch (Exception ex) when (ex is SqliteException or InvalidDataException or JsonException or FormatException or KeyNotFoundException
                                       or ArgumentException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new RunSnapshotException($"cannot read {run.JournalPath}: {OneLine(ex.Message)}");
        }
    }

    private static RunSnapshot From(RunDirectory run, JournalState journal, RunDirectoryHolder? holder, DateTimeOffset now)
    {
        var notes = new List<string>();
        var header = ResultsHeader(run);
        SweepSpec? spec = null;
        try { spec = SpecLoader.LoadText(journal.SpecText, journal.SpecPath, Path.GetDirectoryName(journal.SpecPath) ?? run.Path, new SpecLoader.Options { CheckPaths = false }); }
        catch (SpecException ex) when (header is not null)
        {
            notes.Add($"the journal's spec does not load here ({ex.Errors[0]}); the name and objective come from {ReportWriter.JsonFile}, the planned total is unknown");
        }
        catch (SpecException ex)
        {
            throw new RunSnapshotException($"the spec in {run.JournalPath} does not load here, and there is no {ReportWriter.JsonFile} to take the objective from: {OneLine(ex.Errors[0].ToString())}");
        }
        var name = spec?.Name ?? header!.Name;
        var objective = spec?.Objective ?? header!.Objective;
        long? total = null;
        if (spec is not null)
        {
            try { total = new SpecTrialSource(spec, journal.TrialLimit).Total; }
            catch (ArgumentException ex) { notes.Add($"the planned total is unknown ({ex.Message})"); }
        }

        var trials = journal.Trials;
        // A trial an interruption stopped (sweeper stop, Ctrl+C, SIGTERM) is not finished: sweeper resume continues it.
        bool allFinished = trials.All(t => t.State.IsTerminal() && !t.Interrupted);
        var lastTrialEnd = trials.Where(t => t.FinishedAt is not null).Select(t => t.FinishedAt!.Value).DefaultIfEmpty(journal.StartedAt).Max();
        bool resultsWritten = header is not null && header.StartedAt == journal.StartedAt && header.FinishedAt >= lastTrialEnd;
        // Ended: every planned trial ran, or a stop rule of the spec (target, time budget) ended it, or, with no stop
        // reason, the run wrote its results. A stop reason of any other kind is an interruption (sweeper stop, Ctrl+C,
        // SIGTERM): even with every trial it had started finished, the rest of the plan is still to come on resume.
        bool planDone = total is { } n && trials.Count >= n;
        bool ruleStop = journal.StopReason is { } reason && spec is not null && (SweepStops.IsTargetReached(spec, reason) || SweepStops.IsBudgetUsedUp(spec, reason));
        var state = holder is not null ? RunState.Running
            : allFinished && (planDone || ruleStop || (journal.StopReason is null && resultsWritten)) ? RunState.Finished
            : RunState.Interrupted;
        DateTimeOffset? endedAt = state switch
        {
            RunState.Running => null,
            RunState.Finished when resultsWritten => header!.FinishedAt,
            RunState.Finished => lastTrialEnd,
            _ => LastRecorded(journal),
        };

        var progress = new SweepProgress(new SweepResult(name, objective, trials, journal.StartedAt, endedAt ?? now) { StopReason = journal.StopReason }, total);
        int concurrency = Math.Max(progress.Running.Count, spec?.Resources.MaxConcurrentTrials ?? 1);
        TimeSpan? eta = null;
        if (state == RunState.Running)
        {
            eta = progress.Eta(concurrency);
            if (spec is not null && SweepStops.BudgetLeft(spec, journal.StartedAt, now) is { } left)
                eta = eta is { } e && e > left ? (left < TimeSpan.Zero ? TimeSpan.Zero : left) : eta;
        }
        return new RunSnapshot
        {
            Run = run, Name = name, State = state, Holder = holder, Progress = progress, Concurrency = concurrency,
            EndedAt = endedAt, TakenAt = now, Eta = eta, Notes = notes,
        };
    }

    /// <summary>The time of the newest event the journal holds (a trial started, restarted, crashed, resumed or ended): when an interrupted sweep was last heard of.</summary>
    private static DateTimeOffset LastRecorded(JournalState journal) =>
        journal.Trials.SelectMany(t => new[] { t.StartedAt ?? default, t.FinishedAt ?? default }
                .Concat(t.Attempts.Select(a => a.StartedAt)).Concat(t.Resumes.Select(r => r.At)).Concat(t.Crashes.Select(c => c.At)))
            .Append(journal.StartedAt).Max();

    /// <summary>The header of the run's results.json when it is there and readable (it says when the sweep ended).</summary>
    private static ResultsJsonHeader? ResultsHeader(RunDirectory run)
    {
        if (!File.Exists(run.ResultsJsonPath)) return null;
        try { return ResultsJsonReader.ReadHeader(File.ReadAllText(run.ResultsJsonPath)); }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException) { return null; }
    }

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>A run directory that cannot be read; the message is one line naming the folder or file and the cause.</summary>
public sealed class RunSnapshotException(string message) : Exception(message);
