using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Cluster.Journal;

namespace Sweeper.Cli.Commands;

public sealed class LsSettings : CommandSettings
{
    [CommandArgument(0, "[dir]")]
    [Description("The output folder whose run directories to list (default: runs).")]
    public string? Dir { get; init; }

    [CommandOption("--json")]
    [Description("Print one JSON document.")]
    public bool Json { get; init; }
}

/// <summary>
/// <c>sweeper ls [dir]</c>: one row per run directory directly in the folder, oldest first: the sweep's name, the
/// folder, its start, running / finished / interrupted, trials finished of the planned total, and the best objective.
/// Read like <c>sweeper status</c>, without disturbing a running sweep. Folders without a journal are skipped; a journal
/// that cannot be read is listed with its error. Exit 0, or 2 when the folder does not exist.
/// </summary>
public sealed class LsCommand : Command<LsSettings>
{
    public override int Execute(CommandContext context, LsSettings settings, CancellationToken cancellationToken)
    {
        var folder = settings.Dir ?? StatusSettings.DefaultOutputDir;
        if (File.Exists(folder)) return Errors.Report($"'{folder}' is a file, not a folder of run directories", Errors.InvalidInput);
        if (!Directory.Exists(folder)) return Errors.Report($"folder '{folder}' does not exist", Errors.InvalidInput);

        var rows = new List<RunStatusView.Row>();
        foreach (var run in RunSnapshot.RunsIn(folder))
        {
            var name = Path.GetFileName(run.Path);
            try { rows.Add(new RunStatusView.Row(name, RunSnapshot.Read(run), null)); }
            catch (RunSnapshotException ex) { rows.Add(new RunStatusView.Row(name, null, ex.Message)); }
        }
        rows = rows.OrderBy(r => r.Snapshot is null ? 1 : 0).ThenBy(r => r.Snapshot?.StartedAt).ThenBy(r => r.Folder, StringComparer.Ordinal).ToList();

        if (settings.Json) Console.Out.WriteLine(RunStatusView.Json(RunStatusView.Json(folder, rows), oneLine: false));
        else RunStatusView.WriteRows(AnsiConsole.Console, folder, rows);
        return Errors.Ok;
    }
}
