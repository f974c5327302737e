using System.ComponentModel;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Reporting;
using Sweeper.Core.Search;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;
using Sweeper.Core.Model;

namespace Sweeper.Cli.Commands;

public sealed class ReportSettings : CommandSettings
{
    [CommandArgument(0, "<run-dir>")]
    [Description("A run directory (it holds journal.db, or at least results.json and spec.yaml).")]
    public string RunDirectory { get; init; } = "";

    [CommandOption("--group-by <KEYS>")]
    [Description("Comma-separated parameter keys to pool trials by (a key's last part is enough when it names one parameter). Default: by configuration, pooling the repeats that differ only in the seed.")]
    public string? GroupBy { get; init; }
}

/// <summary>
/// <c>sweeper report run-dir</c>: rebuilds a run's results without running anything. Reads the journal (or, without
/// one, results.json and spec.yaml), writes summary.md, results.csv, epochs.csv and results.json exactly as <c>sweeper run</c>
/// does, and adds groups.csv and report.html. Exit 0, or 2 when the directory is not a readable run directory.
/// </summary>
public sealed class ReportCommand : Command<ReportSettings>
{
    public override int Execute(CommandContext context, ReportSettings settings, CancellationToken cancellationToken)
    {
        var run = RunDirectory.At(settings.RunDirectory);
        var runDir = run.Path;
        if (File.Exists(runDir))
            return Errors.Report($"'{settings.RunDirectory}' is a file, not a run directory", Errors.InvalidInput);
        if (!Directory.Exists(runDir))
            return Errors.Report($"run directory '{settings.RunDirectory}' does not exist", Errors.InvalidInput);
        var journalPath = run.JournalPath;
        var jsonPath = run.ResultsJsonPath;
        if (!run.HasJournal && !File.Exists(jsonPath))
            return Errors.Report($"'{settings.RunDirectory}' is not a Sweeper run directory: it holds neither {RunDirectory.JournalFile} nor {ReportWriter.JsonFile}", Errors.InvalidInput);

        Loaded loaded;
        try
        {
            loaded = run.HasJournal ? FromJournal(run) : FromResultsJson(run);
        }
        catch (ReportInputException ex)
        {
            return Errors.Report(ex.Message, Errors.InvalidInput);
        }
        catch (Exception ex) when (ex is InvalidDataException or JsonException or SqliteException or FormatException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            var file = File.Exists(journalPath) ? journalPath : jsonPath;
            return Errors.Report($"cannot read {file}: {ex.Message}", Errors.InvalidInput);
        }

        var result = loaded.Result;
        GroupTable groups;
        try
        {
            var keys = settings.GroupBy?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            groups = GroupTable.From(result, keys is null ? null : keys.Length == 0 ? throw new ArgumentException("no group-by key given") : keys);
        }
        catch (ArgumentException ex)
        {
            return Errors.Report("--group-by: " + ex.Message, Errors.InvalidInput);
        }

        var console = AnsiConsole.Console;
        console.MarkupLine($"report of sweep [bold]{Markup.Escape(result.Name)}[/] from {Markup.Escape(loaded.Source)} ({result.Trials.Count} trial(s)); nothing is run");
        foreach (var note in loaded.Notes) console.MarkupLine($"[yellow]note[/]: {Markup.Escape(note)}");

        ReportWriter.WriteAll(result, runDir, groups);
        ReportWriter.WriteAtomically(Path.Combine(runDir, GroupTable.CsvFile), groups.Csv());
        ReportWriter.WriteAtomically(Path.Combine(runDir, HtmlReport.FileName), HtmlReport.Render(result, groups, loaded.Source, loaded.Parameters));
        var claims = PaperClaims.Judge(result);
        if (claims.Count > 0) ReportWriter.WriteAtomically(Path.Combine(runDir, PaperClaims.FileName), PaperClaims.Markdown(claims));

        ResultsView.Write(console, result, runDir);
        WriteGroups(console, groups);
        WriteClaims(console, claims);
        console.MarkupLine($"report: [link]{Markup.Escape(Path.Combine(runDir, HtmlReport.FileName))}[/] ({GroupTable.CsvFile}, {HtmlReport.FileName})");
        return Errors.Ok;
    }

    private static void WriteClaims(IAnsiConsole console, IReadOnlyList<ClaimRow> claims)
    {
        if (claims.Count == 0) return;
        var view = new Table().Border(TableBorder.Rounded).Title($"the paper's claims at this scale ({PaperClaims.FileName})");
        foreach (var c in new[] { "claim", "compared", "evidence", "verdict" }) view.AddColumn(new TableColumn(c));
        foreach (var r in claims)
            view.AddRow(Markup.Escape(r.Claim), Markup.Escape(r.Comparison), Markup.Escape(r.Evidence), Markup.Escape(PaperClaims.Word(r.Verdict)));
        console.Write(view);
    }

    private static void WriteGroups(IAnsiConsole console, GroupTable groups)
    {
        if (!groups.PoolsTrials)
        {
            console.MarkupLine($"groups {Markup.Escape(groups.Description)}: every group holds one trial (see {GroupTable.CsvFile}); --group-by KEYS pools trials");
            return;
        }
        var table = groups.Text();
        var view = new Table().Border(TableBorder.Rounded)
            .Title($"groups {Markup.Escape(groups.Description)}: {Markup.Escape(groups.Objective.Metric)} mean ± std over seeds");
        foreach (var c in table.Columns) view.AddColumn(new TableColumn(Markup.Escape(c)));
        foreach (var row in table.Rows) view.AddRow(row.Select(Markup.Escape).ToArray());
        console.Write(view);
    }

    /// <param name="Source">Where the results came from, for the console and the page.</param>
    /// <param name="Notes">What the reader had to assume.</param>
    /// <param name="Parameters">The spec's swept parameters (their domains draw the parameter plots' axes), when the spec loads.</param>
    private sealed record Loaded(SweepResult Result, string Source, IReadOnlyList<string> Notes, IReadOnlyList<ParameterDefinition>? Parameters);

    private sealed class ReportInputException(string message) : Exception(message);

    private static Loaded FromJournal(RunDirectory run)
    {
        var (runDir, journalPath, jsonPath) = (run.Path, run.JournalPath, run.ResultsJsonPath);
        JournalState state;
        using (var journal = run.OpenJournal()) state = journal.Load();
        var notes = new List<string>();
        var trials = state.Trials;

        ResultsJsonHeader? header = null;
        if (File.Exists(jsonPath))
        {
            try { header = ResultsJsonReader.ReadHeader(File.ReadAllText(jsonPath)); }
            catch (InvalidDataException ex) { notes.Add($"{ReportWriter.JsonFile} is unreadable and is written again ({ex.Message})"); }
        }

        string name;
        ObjectiveSpec objective;
        IReadOnlyList<ParameterDefinition>? parameters = null;
        try
        {
            var spec = SpecLoader.LoadText(state.SpecText, state.SpecPath, Path.GetDirectoryName(state.SpecPath) ?? runDir, new SpecLoader.Options { CheckPaths = false });
            (name, objective, parameters) = (spec.Name, spec.Objective, spec.Parameters.Select(p => p.Definition).ToList());
        }
        catch (SpecException ex) when (header is not null)
        {
            (name, objective) = (header.Name, header.Objective);
            notes.Add($"the journal's spec does not load any more ({ex.Errors[0]}); the sweep's name and objective come from {ReportWriter.JsonFile}");
        }
        catch (SpecException ex)
        {
            throw new ReportInputException($"the spec in {journalPath} does not load any more, and there is no {ReportWriter.JsonFile} to take the objective from:{Environment.NewLine}  " +
                                           string.Join(Environment.NewLine + "  ", ex.Errors));
        }

        // The journal does not hold when the sweep ended: results.json does, once the sweep wrote it.
        var lastTrialEnd = trials.Select(t => t.FinishedAt).Where(f => f is not null).Select(f => f!.Value).DefaultIfEmpty(state.StartedAt).Max();
        DateTimeOffset finishedAt;
        if (header is not null && header.StartedAt == state.StartedAt && header.FinishedAt >= lastTrialEnd)
            finishedAt = header.FinishedAt;
        else
        {
            finishedAt = lastTrialEnd;
            notes.Add($"the sweep's end is taken from its last trial's end ({ReportWriter.JsonFile} {(header is null ? "is missing" : "is older than the journal")}): the wall time may be short");
        }
        if (trials.Any(t => !t.State.IsTerminal()))
            notes.Add($"{trials.Count(t => !t.State.IsTerminal())} trial(s) had not finished when the journal was last written (interrupted, or still running)");
        return new Loaded(new SweepResult(name, objective, trials, state.StartedAt, finishedAt) { StopReason = state.StopReason }, RunDirectory.JournalFile, notes, parameters);
    }

    private static Loaded FromResultsJson(RunDirectory run)
    {
        var (runDir, jsonPath, specPath) = (run.Path, run.ResultsJsonPath, run.SpecPath);
        if (!File.Exists(specPath))
            throw new ReportInputException($"'{runDir}' has {ReportWriter.JsonFile} but neither {RunDirectory.JournalFile} nor {RunDirectory.SpecFile}: the trials' settings cannot be rebuilt");
        SweepSpec spec;
        try { spec = SpecLoader.LoadText(File.ReadAllText(specPath), specPath, runDir, new SpecLoader.Options { CheckPaths = false }); }
        catch (SpecException ex)
        {
            throw new ReportInputException($"{specPath} does not load, so the trials' settings cannot be rebuilt:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", ex.Errors));
        }
        SweepResult result;
        try { result = ResultsJsonReader.Read(File.ReadAllText(jsonPath), parameters => SpecLoader.Apply(spec, parameters).Trainable); }
        catch (ArgumentException ex) { throw new ReportInputException($"{jsonPath} does not match {specPath}: {ex.Message}"); }
        return new Loaded(result, ReportWriter.JsonFile, [$"no {RunDirectory.JournalFile}: read {ReportWriter.JsonFile} and {RunDirectory.SpecFile}"], spec.Parameters.Select(p => p.Definition).ToList());
    }
}
