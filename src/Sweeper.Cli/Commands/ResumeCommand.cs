using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Cli.Running;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;

namespace Sweeper.Cli.Commands;

public sealed class ResumeSettings : NodeSettings
{
    [CommandArgument(0, "<run-dir>")]
    [Description("The run directory of the sweep (it holds journal.db). Relative paths in its spec resolve against the spec's folder as found from " +
        "where the run directory is now, so a run directory moved or copied together with its spec's folder and data resumes with those.")]
    public string RunDirectory { get; init; } = "";

    [CommandOption("--rerun-failed")]
    [Description("Run the trials that failed, or that stability supervision stopped, again: each as a new attempt from epoch 0 with its original " +
        "config (not the changes of earlier restarts); its earlier attempts, crashes and failure stay in its history (results.json \"attempts\"). " +
        "Trials stopped by the scheduler, stop.target, the time budget or the user are not rerun. With none to rerun, a plain resume.")]
    public bool RerunFailed { get; init; }

    [CommandOption("--extend <N>")]
    [Description("N more trials (random and TPE; a grid refuses): the searcher first learns every recorded result, then proposes N trials with ids " +
        "after the existing ones; later resumes keep the new total. A sweep that stopped early (stop.target reached, time budget used up) runs N more " +
        "than it created, and a target it reached no longer stops it; stop.max_minutes counts again from this resume.")]
    public int? Extend { get; init; }

    [CommandOption("--no-local-worker")]
    public bool NoLocalWorker { get; init; }

    [CommandOption("--slots <N>")]
    public int? Slots { get; init; }

    public override ValidationResult Validate() =>
        Extend is < 1 ? ValidationResult.Error($"--extend must be at least 1, got {Extend}") : base.Validate();
}

/// <summary>
/// <c>sweeper resume run-dir</c>: continues a sweep that was interrupted (<c>sweeper stop</c>, Ctrl+C, SIGTERM) or whose
/// coordinator died. Finished trials are kept as journaled; interrupted ones (running, queued, or stopped by the
/// interruption) continue from their newest checkpoint; the results hold every trial once. Refused (exit 2) while
/// another process runs or resumes the same run directory (<see cref="RunDirectoryLock"/>). <c>--rerun-failed</c> and
/// <c>--extend N</c> change what it continues with (<see cref="ResumePlan"/>), journaled before the coordinator starts.
/// </summary>
public sealed class ResumeCommand : AsyncCommand<ResumeSettings>
{
    public override Task<int> ExecuteAsync(CommandContext context, ResumeSettings settings, CancellationToken cancellationToken) =>
        ResumeAsync(RunDirectory.At(settings.RunDirectory), new ResumeRequest(settings.RerunFailed, settings.Extend ?? 0),
            settings.Node(!settings.NoLocalWorker, settings.Slots), cancellationToken);

    /// <summary>Resumes the sweep of <paramref name="runDir"/> (also <c>sweeper run --run-dir</c> on a run directory whose sweep did not end).</summary>
    public static async Task<int> ResumeAsync(RunDirectory runDir, ResumeRequest request, NodeOptions node, CancellationToken cancellationToken)
    {
        RunDirectoryLock? held = null;
        if (runDir.HasJournal) // otherwise the journal's own error below says what is wrong
        {
            try { held = RunDirectoryLock.Acquire(runDir); }
            catch (RunDirectoryBusyException ex) { return Errors.Report(ex.Message, Errors.InvalidInput); }
        }
        using var owner = held;
        JournalState state;
        SweepSpec spec;
        ResumePlan plan;
        try
        {
            using var journal = runDir.OpenJournal();
            state = journal.Load();
            try { spec = SpecLoader.LoadText(state.SpecText, Path.Combine(state.SpecDirectory, Path.GetFileName(state.SpecPath)), state.SpecDirectory, Running.SpecChecks.Options); }
            catch (SpecException ex) { return Errors.Report(ex); }
            // A checkpoint.dir relative to a spec folder that moved: the journal's checkpoints outside the run are there now.
            var checkpoints = new PathMove(runDir.CheckpointDir(spec with { SourcePath = state.SpecPath }), runDir.CheckpointDir(spec));
            try
            {
                plan = ResumePlan.Create(spec, state.Trials, request, new SpecTrialSource(spec, state.TrialLimit).Total, state.StopReason, DateTimeOffset.UtcNow,
                    checkpoints.From == checkpoints.To ? null : checkpoints);
            }
            catch (ResumePlanException ex) { return Errors.Report(ex.Message, Errors.InvalidInput); }
            journal.Apply(plan);
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidDataException or Microsoft.Data.Sqlite.SqliteException)
        {
            return Errors.Report(ex.Message, Errors.InvalidInput);
        }

        var console = AnsiConsole.Console;
        if (state.StopReason is { } ended && (SweepStops.IsTargetReached(spec, ended) || SweepStops.IsBudgetUsedUp(spec, ended))
            && plan.Rerun.Count == 0 && plan.TrialLimit is null && plan.Trials.All(t => t.State.IsTerminal() && !t.Interrupted))
        {
            // The sweep ended by its own stop rule, not by an interruption: a plain resume has nothing to continue.
            console.MarkupLine($"the sweep [bold]{Markup.Escape(spec.Name)}[/] ended by its stop rule ({Markup.Escape(ended)}): nothing to resume; " +
                $"[bold]sweeper resume {Markup.Escape(runDir.Path)} --extend N[/] runs N more trials, --rerun-failed reruns failed ones");
            return Errors.Ok;
        }
        console.MarkupLine($"relative paths in the spec resolve against {Markup.Escape(state.SpecDirectory)} " +
            (state.SpecDirectoryMoved ? "(the spec's folder, found from the run directory)" : "(the spec's original folder)"));
        int interrupted = plan.Trials.Count(t => !t.State.IsTerminal() || t.Interrupted) - plan.Rerun.Count;
        int finished = plan.Trials.Count - interrupted - plan.Rerun.Count;
        console.MarkupLine($"resuming sweep [bold]{Markup.Escape(spec.Name)}[/] in {Markup.Escape(runDir.Path)}: {finished} trial(s) finished, {interrupted} interrupted (they continue from their checkpoints)");
        if (request.RerunFailed)
            console.MarkupLine(plan.Rerun.Count == 0
                ? "--rerun-failed: no trial failed or was stopped by stability supervision; nothing to rerun"
                : $"rerunning {plan.Rerun.Count} trial(s) as new attempts from scratch with their original config: " +
                  Markup.Escape(string.Join(", ", plan.Rerun.Select(t => $"{t.Id} ({t.Attempts[^2].Outcome})"))));
        var target = state.TargetReached;
        if (plan.TrialLimit is { } limit)
        {
            if (plan.EndsStop is { } stop) console.MarkupLine($"the sweep had stopped early ({Markup.Escape(stop)}): it runs {request.Extend} more trial(s)");
            console.MarkupLine($"extending by {request.Extend} trial(s): {new TrialId(plan.FirstNewTrial!.Value)}–{new TrialId((int)limit)} ({limit} in all)");
            if (plan.BudgetFrom is not null) console.MarkupLine($"the time budget of {spec.Stop.MaxMinutes} min counts from now");
            if (plan.IgnoreTarget) target = plan.EndsStop;
        }
        if (target is not null && spec.Stop.Target is not null)
        {
            console.MarkupLine($"stop.target was reached before ({Markup.Escape(target)}): it no longer stops this sweep");
            spec = spec with { Stop = spec.Stop with { Target = null } };
        }
        var source = new SpecTrialSource(spec, plan.TrialLimit ?? state.TrialLimit);
        source.Restore(plan.Trials.Select(t => t.Config));
        return await SweepSession.RunAsync(spec, source, runDir, node, cancellationToken);
    }
}
