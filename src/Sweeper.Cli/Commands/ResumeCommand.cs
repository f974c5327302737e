using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Cli.Running;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;

namespace Sweeper.Cli.Commands;

public sealed class ResumeSettings : NodeSettings
{
    [CommandArgument(0, "<run-dir>")]
    [Description("The run directory of the interrupted sweep (it holds journal.db).")]
    public string RunDirectory { get; init; } = "";



    [CommandOption("--no-local-worker")]
    public bool NoLocalWorker { get; init; }

    [CommandOption("--slots <N>")]
    public int? Slots { get; init; }
}

/// <summary>
/// <c>sweeper resume run-dir</c>: continues a sweep that was interrupted (<c>sweeper stop</c>, Ctrl+C, SIGTERM) or whose
/// coordinator died. Finished trials are kept as journaled; interrupted ones (running, queued, or stopped by the
/// interruption) continue from their newest checkpoint; the results hold every trial once. Refused (exit 2) while
/// another process runs or resumes the same run directory (<see cref="RunDirectoryLock"/>).
/// </summary>
public sealed class ResumeCommand : AsyncCommand<ResumeSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, ResumeSettings settings, CancellationToken cancellationToken)
    {
        var runDir = RunDirectory.At(settings.RunDirectory);
        RunDirectoryLock? held = null;
        if (runDir.HasJournal) // otherwise the journal's own error below says what is wrong
        {
            try { held = RunDirectoryLock.Acquire(runDir); }
            catch (RunDirectoryBusyException ex) { return Errors.Report(ex.Message, Errors.InvalidInput); }
        }
        using var owner = held;
        JournalState state;
        try
        {
            using var journal = runDir.OpenJournal();
            state = journal.Load();
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidDataException or Microsoft.Data.Sqlite.SqliteException)
        {
            return Errors.Report(ex.Message, Errors.InvalidInput);
        }
        SweepSpec spec;
        try { spec = SpecLoader.LoadText(state.SpecText, state.SpecPath, Path.GetDirectoryName(state.SpecPath) ?? runDir.Path, Running.SpecChecks.Options); }
        catch (SpecException ex) { return Errors.Report(ex); }

        int interrupted = state.Trials.Count(t => !t.State.IsTerminal() || t.Interrupted);
        int finished = state.Trials.Count - interrupted;
        AnsiConsole.MarkupLine($"resuming sweep [bold]{Markup.Escape(spec.Name)}[/] in {Markup.Escape(runDir.Path)}: {finished} trial(s) finished, {interrupted} interrupted (they continue from their checkpoints)");
        return await SweepSession.RunAsync(spec, new SpecTrialSource(spec), runDir, new NodeOptions(settings.Hostname, settings.Port, !settings.NoLocalWorker, settings.Slots, settings.Tls), cancellationToken);
    }
}
