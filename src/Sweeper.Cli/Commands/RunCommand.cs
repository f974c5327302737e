using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Cli.Running;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Spec;
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



    [CommandOption("--no-local-worker")]
    [Description("Run the coordinator only; trials wait for workers started with 'sweeper worker --join'.")]
    public bool NoLocalWorker { get; init; }

    [CommandOption("--slots <N>")]
    [Description("Trial slots of the local worker (default: the spec's resources.max_concurrent_trials).")]
    public int? Slots { get; init; }

    public override ValidationResult Validate() => Slots is < 1 ? ValidationResult.Error("--slots must be at least 1") : base.Validate();
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

        var source = new SpecTrialSource(spec);
        var runDir = RunDirectory.Create(spec, settings.Output, DateTimeOffset.Now);
        RunDirectoryLock owner;
        try { owner = RunDirectoryLock.Acquire(runDir); } // a new folder: only a 'sweeper resume' started on it this instant could hold it
        catch (RunDirectoryBusyException ex) { return Errors.Report(ex.Message, Errors.InvalidInput); }
        using var _ = owner;
        var count = source.Total is { } total ? $"{total} trial(s)" : "trials until a stop condition";
        AnsiConsole.MarkupLine($"sweep [bold]{Markup.Escape(spec.Name)}[/]: {count}, {spec.Search.Algorithm} search, {spec.Scheduler.Name} scheduler; run directory {Markup.Escape(runDir.Path)}");
        return await SweepSession.RunAsync(spec, source, runDir, settings.Node(!settings.NoLocalWorker, settings.Slots), cancellationToken);
    }
}
