using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Cli.Running;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Spec;
using Sweeper.Core.Sweep;
using Sweeper.Core.Trials;

namespace Sweeper.Cli.Commands;

public sealed class RunSettings : NodeSettings
{
    [CommandArgument(0, "<spec>")]
    [Description("The sweep spec (YAML).")]
    public string Spec { get; init; } = "";

    [CommandOption("-o|--output <DIR>")]
    [Description("Parent folder of the run directory (default: the spec's output.dir).")]
    public string? Output { get; init; }

    [CommandOption("--run-dir <DIR>")]
    [Description("Use DIR itself as the run directory instead of a new <name>-<time> folder: a new or empty folder starts the sweep there; " +
        "a run directory of the same spec whose sweep did not end is resumed; one whose sweep finished is left alone (exit 0). " +
        "For a coordinator that a supervisor (Kubernetes, systemd) starts again after a crash.")]
    public string? RunDir { get; init; }


    [CommandOption("--no-local-worker")]
    [Description("Run the coordinator only; trials wait for workers started with 'sweeper worker --join'.")]
    public bool NoLocalWorker { get; init; }

    [CommandOption("--slots <N>")]
    [Description("Trial slots of the local worker (default: the spec's resources.max_concurrent_trials).")]
    public int? Slots { get; init; }

    public override ValidationResult Validate() =>
        Slots is < 1 ? ValidationResult.Error("--slots must be at least 1")
        : Output is not null && RunDir is not null ? ValidationResult.Error("--output and --run-dir exclude each other: --run-dir names the run directory itself")
        : base.Validate();
}

/// <summary><c>sweeper run spec.yaml</c>: validate, plan, run every trial, show progress, write the results.</summary>
public sealed class RunCommand : AsyncCommand<RunSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, RunSettings settings, CancellationToken cancellationToken)
    {
        SweepSpec spec;
        try { spec = SpecLoader.LoadFile(settings.Spec, Running.SpecChecks.Options); }
        catch (SpecException ex) { return Errors.Report(ex); }
        Errors.Warn(spec);

        var node = settings.Node(!settings.NoLocalWorker, settings.Slots);
        RunDirectory runDir;
        if (settings.RunDir is { } fixedDir)
        {
            var existing = RunDirectory.At(fixedDir);
            if (existing.HasJournal) return await ContinueAsync(existing, spec, node, cancellationToken);
            try { runDir = RunDirectory.CreateAt(fixedDir, spec); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return Errors.Report(ex.Message, Errors.InvalidInput); }
        }
        else runDir = RunDirectory.Create(spec, settings.Output, DateTimeOffset.Now);
        var source = new SpecTrialSource(spec);
        RunDirectoryLock owner;
        try { owner = RunDirectoryLock.Acquire(runDir); } // a new folder: only a 'sweeper resume' started on it this instant could hold it
        catch (RunDirectoryBusyException ex) { return Errors.Report(ex.Message, Errors.InvalidInput); }
        using var _ = owner;
        var count = source.Total is { } total ? $"{total} trial(s)" : "trials until a stop condition";
        AnsiConsole.MarkupLine($"sweep [bold]{Markup.Escape(spec.Name)}[/]: {count}, {spec.Search.Algorithm} search, {spec.Scheduler.Name} scheduler; run directory {Markup.Escape(runDir.Path)}");
        return await SweepSession.RunAsync(spec, source, runDir, node, cancellationToken);
    }

    /// <summary>
    /// <c>--run-dir</c> names a run directory that exists: the same spec's sweep continues (<c>sweeper resume</c>) unless it
    /// finished; another spec's is refused.
    /// </summary>
    private static async Task<int> ContinueAsync(RunDirectory runDir, SweepSpec spec, NodeOptions node, CancellationToken cancellationToken)
    {
        RunSnapshot snapshot;
        JournalState state;
        try
        {
            using (var journal = SweepJournal.OpenReadOnly(runDir.Path)) state = journal.Load();
            snapshot = RunSnapshot.Read(runDir);
        }
        catch (Exception ex) when (ex is InvalidDataException or Microsoft.Data.Sqlite.SqliteException or IOException or SpecException)
        {
            return Errors.Report($"{runDir.Path}: {ex.Message}", Errors.InvalidInput);
        }
        if (state.SpecText != spec.SourceText)
            return Errors.Report($"{runDir.Path} holds the sweep of another spec ({state.SpecPath}, or an edited copy of this one); " +
                $"continue it with 'sweeper resume {runDir.Path}', or name another --run-dir", Errors.InvalidInput);
        if (snapshot.State == RunState.Finished)
        {
            AnsiConsole.MarkupLine($"the sweep [bold]{Markup.Escape(spec.Name)}[/] in {Markup.Escape(runDir.Path)} has finished: nothing to run (see 'sweeper status {Markup.Escape(runDir.Path)}')");
            return Errors.Ok;
        }
        AnsiConsole.MarkupLine($"{Markup.Escape(runDir.Path)} holds this sweep, which did not end: resuming it");
        return await ResumeCommand.ResumeAsync(runDir, new ResumeRequest(), node, cancellationToken);
    }
}
