using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Cli.Running;
using Sweeper.Core.Reporting;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;

namespace Sweeper.Cli.Commands;

public sealed class RunSettings : CommandSettings
{
    [CommandArgument(0, "<spec>")]
    [Description("The sweep spec (YAML).")]
    public string Spec { get; init; } = "";

    [CommandOption("-o|--output <DIR>")]
    [Description("Parent folder of the run directory (default: the spec's output.dir).")]
    public string? Output { get; init; }

    [CommandOption("--hostname <HOST>")]
    [Description("Address remoting binds to (default 127.0.0.1).")]
    [DefaultValue("127.0.0.1")]
    public string Hostname { get; init; } = "127.0.0.1";

    [CommandOption("--port <PORT>")]
    [Description("Remoting port (default 0: any free port).")]
    [DefaultValue(0)]
    public int Port { get; init; }

    public override ValidationResult Validate() =>
        Port is < 0 or > 65535 ? ValidationResult.Error("--port must be between 0 and 65535") : ValidationResult.Success();
}

/// <summary><c>sweeper run spec.yaml</c>: validate, plan, run every trial, show progress, write the results.</summary>
public sealed class RunCommand : AsyncCommand<RunSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, RunSettings settings, CancellationToken cancellationToken)
    {
        SweepSpec spec;
        try { spec = SpecLoader.LoadFile(settings.Spec); }
        catch (SpecException ex) { return Errors.Report(ex); }

        var trials = TrialPlanner.Grid(spec);
        var runDir = RunDirectory.Create(spec, settings.Output, DateTimeOffset.Now);
        var console = AnsiConsole.Console;
        console.MarkupLine($"sweep [bold]{Markup.Escape(spec.Name)}[/]: {trials.Count} trial(s), {spec.Resources.MaxConcurrentTrials} at a time; run directory {Markup.Escape(runDir)}");

        using var interrupt = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; interrupt.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(interrupt.Token, cancellationToken);
            var view = new ProgressView(console, spec);
            var run = SweepHost.RunAsync(spec, trials, TrainableFactories.For(spec), new NodeOptions(settings.Hostname, settings.Port),
                view.OnTrial, address => { if (!view.Interactive) console.WriteLine($"node {address} (coordinator, worker)"); }, linked.Token);
            var result = await view.ShowWhile(run);
            ReportWriter.WriteAll(result, runDir);
            ResultsView.Write(console, result, runDir);
            if (interrupt.IsCancellationRequested) return Errors.Interrupted;
            return result.Trials.Any(t => t.State == TrialState.Completed) ? Errors.Ok : Errors.Report("no trial completed; see the reasons in the table", Errors.Failed);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
