using System.ComponentModel;
using System.Globalization;
using System.Runtime.InteropServices;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Cluster.Journal;

namespace Sweeper.Cli.Commands;

public sealed class StatusSettings : CommandSettings
{
    /// <summary>Where <c>sweeper run</c> puts run directories unless the spec's <c>output.dir</c> says otherwise.</summary>
    public const string DefaultOutputDir = "runs";

    /// <summary>Seconds between refreshes of <c>--watch</c> without a value.</summary>
    public const double DefaultWatchSeconds = 2;

    [CommandArgument(0, "[run-dir]")]
    [Description("The run directory (it holds journal.db). Default: the newest run in --dir (newest by the sweep's start).")]
    public string? Given { get; init; }

    [CommandOption("--dir <DIR>")]
    [Description("The output folder to take the newest run from when no run directory is given (default: runs).")]
    public string? Dir { get; init; }

    // Read as text: `status --watch runs/x` hands the run directory to --watch, which takes it back (see RunDirectory).
    [CommandOption("--watch [SECONDS]")]
    [Description("Refresh every SECONDS (default 2) until the sweep is no longer running, or Ctrl+C (exit 0).")]
    public FlagValue<string>? Watch { get; init; }

    [CommandOption("--json")]
    [Description("Print one JSON document (with --watch: one JSON document per line, per refresh).")]
    public bool Json { get; init; }

    /// <summary>The run directory given, also when it came right after a --watch without seconds.</summary>
    public string? RunDirectory => Given ?? (WatchText is { } text && !IsNumber(text) ? text : null);

    /// <summary>Whether to refresh, and how often (null: show once).</summary>
    public TimeSpan? WatchInterval => Watch is not { IsSet: true }
        ? null
        : TimeSpan.FromSeconds(WatchText is { } text && IsNumber(text) ? double.Parse(text, CultureInfo.InvariantCulture) : DefaultWatchSeconds);

    private string? WatchText => Watch is { IsSet: true, Value: { Length: > 0 } text } ? text : null;

    private static bool IsNumber(string text) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    public override ValidationResult Validate()
    {
        if (WatchText is { } text && (IsNumber(text) ? !(double.Parse(text, CultureInfo.InvariantCulture) is > 0 and <= 86400) : Given is not null))
            return ValidationResult.Error($"--watch takes a number of seconds (more than 0, at most 86400), got '{text}'");
        if (RunDirectory is not null && Dir is not null) return ValidationResult.Error("give a run directory or --dir, not both");
        return ValidationResult.Success();
    }
}

/// <summary>
/// <c>sweeper status [run-dir]</c>: where a sweep stands, read from its journal without disturbing it (the journal is
/// opened read-only; the run directory's lock is probed, never taken): running, finished or interrupted; trials by
/// state against the planned total; the best so far; each running trial's epoch, worker and attempt; restarts and
/// crashes; elapsed time and ETA. Exit 0, or 2 when the folder is not a readable run directory.
/// </summary>
public sealed class StatusCommand : AsyncCommand<StatusSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, StatusSettings settings, CancellationToken cancellationToken)
    {
        RunDirectory run;
        if (settings.RunDirectory is { } given) run = RunDirectory.At(given);
        else
        {
            var folder = settings.Dir ?? StatusSettings.DefaultOutputDir;
            if (!Directory.Exists(folder))
                return Errors.Report($"no run directory given, and the output folder '{folder}' does not exist (give a run directory, or --dir DIR)", Errors.InvalidInput);
            if (RunSnapshot.Newest(folder) is not { } newest)
                return Errors.Report($"no run directory given, and there is no readable run directory in '{folder}'", Errors.InvalidInput);
            run = newest;
        }

        var console = AnsiConsole.Console;
        if (settings.WatchInterval is not { } interval)
        {
            if (!TryRead(run, out var snapshot, out var error)) return error;
            Show(console, snapshot, settings.Json, oneLine: false);
            return Errors.Ok;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Ctrl+C (and SIGTERM) end the watch, not the sweep being watched: exit 0.
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        bool clear = !settings.Json && console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi;
        while (true)
        {
            if (!TryRead(run, out var snapshot, out var error)) return error;
            if (clear) console.Clear();
            Show(console, snapshot, settings.Json, oneLine: true);
            if (snapshot.State != RunState.Running) return Errors.Ok;
            if (!settings.Json && !clear) console.WriteLine();
            try { await Task.Delay(interval, stop.Token); }
            catch (OperationCanceledException) { return Errors.Ok; }
        }
    }

    private static bool TryRead(RunDirectory run, out RunSnapshot snapshot, out int error)
    {
        try
        {
            snapshot = RunSnapshot.Read(run);
            error = Errors.Ok;
            return true;
        }
        catch (RunSnapshotException ex)
        {
            snapshot = null!;
            error = Errors.Report(ex.Message, Errors.InvalidInput);
            return false;
        }
    }

    private static void Show(IAnsiConsole console, RunSnapshot snapshot, bool json, bool oneLine)
    {
        // JSON goes out as plain text: the console would wrap it at its width.
        if (json) Console.Out.WriteLine(RunStatusView.Json(RunStatusView.Json(snapshot), oneLine));
        else RunStatusView.Write(console, snapshot);
        Console.Out.Flush();
    }
}
