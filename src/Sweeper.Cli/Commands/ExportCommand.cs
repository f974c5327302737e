using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Reporting;
using Sweeper.Core.Spec;
using Sweeper.Training.Quantized;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Cli.Commands;

public sealed class ExportSettings : CommandSettings
{
    [CommandArgument(0, "<checkpoint>")]
    [Description("A trial's checkpoint, e.g. runs/<run>/checkpoints/t0003/a0001/epoch-0004.ckpt.")]
    public string Checkpoint { get; init; } = "";

    [CommandOption("-o|--output <FILE>")]
    [Description("Where to write the JSON (default: standard output).")]
    public string? Output { get; init; }

    [CommandOption("--run-dir <DIR>")]
    [Description("The run directory whose journal has the trial's settings (default: found above the checkpoint).")]
    public string? RunDirectory { get; init; }
}

/// <summary>
/// <c>sweeper export &lt;checkpoint&gt;</c>: what an accelerator loads — for every quantized layer its integer weights,
/// power-of-two exponents (shift amounts) or LSQ steps, and bit width — from a trial's checkpoint.
/// </summary>
public sealed class ExportCommand : Command<ExportSettings>
{
    public override int Execute(CommandContext context, ExportSettings settings, CancellationToken cancellationToken)
    {
        var checkpoint = Path.GetFullPath(settings.Checkpoint);
        if (!File.Exists(checkpoint)) return Errors.Report($"{settings.Checkpoint}: no such checkpoint", Errors.InvalidInput);
        var runDir = settings.RunDirectory is { } given ? RunDirectory.At(given) : RunDirectory.FindAbove(checkpoint);
        if (runDir is null || !runDir.HasJournal)
            return Errors.Report($"{settings.Checkpoint}: no run directory (with {RunDirectory.JournalFile}) above it; give --run-dir", Errors.InvalidInput);
        if (CheckpointStore.Locate(checkpoint) is not { } location)
            return Errors.Report($"{settings.Checkpoint}: not a trial's checkpoint (expected <checkpoint dir>/tNNNN/aNNNN/epoch-NNNN{CheckpointStore.Extension})", Errors.InvalidInput);
        var trialName = location.Trial.ToString();
        TrainableSpec trainable;
        using (var journal = runDir.OpenJournal())
        {
            var trial = journal.Load().Trials.FirstOrDefault(t => t.Id == location.Trial);
            if (trial is null) return Errors.Report($"{settings.Checkpoint}: the journal in {runDir} has no trial '{trialName}'", Errors.InvalidInput);
            // The settings the checkpoint was trained with: a restarted trial's last attempt's changes apply.
            trainable = TrialLineage.Current(trial.Config.Trainable, trial.Attempts);
        }
        if (trainable.Quantizer.Method == QuantizerMethod.None.Word())
            return Errors.Report($"{trialName} trained in float (trainable.quantizer.method: none): nothing to export", Errors.InvalidInput);
        QuantizedModelExport export;
        try { export = QuantizedExport.FromCheckpoint(checkpoint, trainable); }
        catch (InvalidDataException ex) { return Errors.Report(ex.Message, Errors.InvalidInput); }
        var json = QuantizedExport.ToJson(export);
        if (settings.Output is null) Console.Out.WriteLine(json);
        else
        {
            ReportWriter.WriteAtomically(settings.Output, json + "\n");
            AnsiConsole.MarkupLine($"{export.Layers.Count} quantized layer(s) ({Markup.Escape(export.Method)}, {export.Bits} bits) written to {Markup.Escape(settings.Output)}");
        }
        return Errors.Ok;
    }
}
