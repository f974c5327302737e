using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Reporting;
using Sweeper.Core.Sweep;

namespace Sweeper.Cli.Commands;

public sealed class StopSettings : CommandSettings
{
    /// <summary>How long <c>sweeper stop</c> waits for the sweep's process to end by default: 10 minutes.</summary>
    public const double DefaultTimeoutSeconds = 600;

    [CommandArgument(0, "<run-dir>")]
    [Description("The run directory of the running sweep (it holds journal.db and sweeper.lock).")]
    public string RunDirectory { get; init; } = "";

    [CommandOption("--now")]
    [Description("Stop at once, as Ctrl+C does: running trials stop mid-epoch (resume continues them from their newest checkpoint). Default: they finish their current epoch and checkpoint it first.")]
    public bool Now { get; init; }

    [CommandOption("--timeout <SECONDS>")]
    [Description("How long to wait for the sweep's process to end (default 600).")]
    public double? Timeout { get; init; }

    [CommandOption("--no-wait")]
    [Description("Leave the request and return at once, without waiting for the sweep to end.")]
    public bool NoWait { get; init; }

    public override ValidationResult Validate() =>
        Timeout is { } t && !(t > 0) ? ValidationResult.Error($"--timeout must be a number of seconds above 0, found {t.ToString(CultureInfo.InvariantCulture)}")
        : Timeout is not null && NoWait ? ValidationResult.Error("--timeout and --no-wait exclude each other")
        : base.Validate();
}

/// <summary>
/// <c>sweeper stop run-dir [--now]</c>: asks the process that runs the sweep of a run directory (<c>sweeper run</c> or
/// <c>resume</c>, on this machine or one sharing the folder) to stop, through a <see cref="StopRequest"/> file it
/// watches; then waits until that process has ended (its <see cref="RunDirectoryLock"/> is free) and says what happened.
/// Exit 0: the sweep stopped (or, with <c>--no-wait</c>, the request is left); 2: nothing runs there, or not a run
/// directory (no file is left behind); 1: still running after the timeout (the request stands).
/// </summary>
public sealed class StopCommand : AsyncCommand<StopSettings>
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    public override async Task<int> ExecuteAsync(CommandContext context, StopSettings settings, CancellationToken cancellationToken)
    {
        var run = RunDirectory.At(settings.RunDirectory);
        if (!Directory.Exists(run.Path)) return Errors.Report($"no such folder: {run.Path}", Errors.InvalidInput);
        if (!run.HasJournal) return Errors.Report($"{run.Path} is not a Sweeper run directory (no {RunDirectory.JournalFile})", Errors.InvalidInput);
        if (!RunDirectoryLock.IsHeld(run, out var holder))
            return Errors.Report($"no sweep runs in {run.Path} (no sweeper run or resume holds it): nothing to stop", Errors.InvalidInput);

        var request = StopRequest.OfThisProcess(settings.Now);
        request.WriteTo(run);
        if (!RunDirectoryLock.IsHeld(run, out _)) // it ended between the look and the write: take the request back
        {
            request.Withdraw(run);
            return Errors.Report($"no sweep runs in {run.Path} any more (it ended just now): nothing to stop", Errors.InvalidInput);
        }
        var how = settings.Now ? "at once" : "after the running trials' current epoch (each saves that epoch's checkpoint)";
        Console.WriteLine($"asked the sweep in {run.Path} ({holder}) to stop {how}");
        if (settings.NoWait)
        {
            Console.WriteLine($"not waiting; it takes the request within a second ({StopRequest.FileName} is removed then)");
            return Errors.Ok;
        }

        var timeout = TimeSpan.FromSeconds(settings.Timeout ?? StopSettings.DefaultTimeoutSeconds);
        var deadline = DateTime.UtcNow + timeout;
        bool taken = false;
        while (RunDirectoryLock.IsHeld(run, out _))
        {
            if (!taken && !StopRequest.IsWaiting(run))
            {
                taken = true;
                Console.WriteLine(settings.Now ? "the sweep took the request; waiting for it to end"
                    : "the sweep took the request; waiting for the running trials to finish their epoch and for the results");
            }
            if (DateTime.UtcNow >= deadline)
                return Errors.Report($"the sweep in {run.Path} ({holder}) is still running after {timeout.TotalSeconds:0.#} s; " +
                    (taken ? "it is stopping" : "the request stands") + $"; run 'sweeper stop {run.Path}' again to wait" + (settings.Now ? "" : ", or add --now"));
            try { await Task.Delay(Poll, cancellationToken); }
            catch (OperationCanceledException)
            {
                return Errors.Report($"stopped waiting; the sweep in {run.Path} is still running and " + (taken ? "stopping" : "the request stands"), Errors.Interrupted);
            }
        }
        if (request.Withdraw(run)) Console.WriteLine("the sweep ended before it took the request");
        Summarize(run);
        return Errors.Ok;
    }

    /// <summary>What the journal holds now: trials by state, why the sweep stopped, how to continue, where the results are.</summary>
    private static void Summarize(RunDirectory run)
    {
        IReadOnlyList<TrialRecord> trials;
        string? why;
        try
        {
            using var journal = run.OpenJournal();
            var state = journal.Load();
            (trials, why) = (state.Trials, state.StopReason);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or Microsoft.Data.Sqlite.SqliteException)
        {
            Console.WriteLine($"the sweep has ended; its journal cannot be read ({ex.Message})");
            return;
        }
        int interrupted = trials.Count(t => t.Interrupted);
        var counts = new (string Name, int Count)[]
        {
            ("completed", trials.Count(t => t.State == TrialState.Completed)),
            ("interrupted", interrupted),
            ("stopped", trials.Count(t => t.State == TrialState.Stopped && !t.Interrupted)),
            ("failed", trials.Count(t => t.State == TrialState.Failed)),
            ("unfinished", trials.Count(t => !t.State.IsTerminal())),
        };
        Console.WriteLine($"the sweep has ended: {trials.Count} trial(s): " + string.Join(", ", counts.Where(c => c.Count > 0 || c.Name == "completed").Select(c => $"{c.Count} {c.Name}")));
        if (why is not null) Console.WriteLine($"stop reason: {why}");
        if (interrupted > 0 || trials.Any(t => !t.State.IsTerminal()))
            Console.WriteLine($"continue it with: sweeper resume {run.Path}");
        Console.WriteLine(File.Exists(run.ResultsJsonPath)
            ? $"results: {run.Path} ({ReportWriter.SummaryFile}, {ReportWriter.CsvFile}, {ReportWriter.EpochsCsvFile}, {ReportWriter.JsonFile})"
            : $"no results were written; 'sweeper report {run.Path}' builds them from the journal");
    }
}
