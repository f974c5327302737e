using System.Collections.Concurrent;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;
using Sweeper.Core.Spec;
using Sweeper.Core.Reporting;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Cli.Output;

/// <summary>
/// Live progress of a sweep. On an interactive terminal: a table redrawn in place, a row per trial (state, epoch,
/// losses, accuracy). Otherwise (CI, a pipe): one line per finished epoch and per finished trial.
/// </summary>
public sealed class ProgressView(IAnsiConsole console, SweepSpec spec, long? totalTrials)
{
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private readonly ConcurrentDictionary<TrialId, TrialRecord> _trials = new();
    private readonly ConcurrentQueue<string> _lines = new();

    public bool Interactive => console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi;

    /// <summary>Called from actor threads: records the update; the display thread renders it.</summary>
    public void OnTrial(TrialRecord trial)
    {
        _trials.TryGetValue(trial.Id, out var before);
        _trials[trial.Id] = trial;
        if (Interactive) return;
        if (before is null && trial.State.IsTerminal())
        {
            // Known from the journal of an earlier run: nothing new happened to it here.
            _lines.Enqueue($"{trial.Id} {trial.State.ToString().ToLowerInvariant()} earlier (journal)");
            return;
        }
        int seen = before is null ? trial.Resumes.LastOrDefault()?.FromEpoch ?? 0 : before.Epochs.Count == 0 ? 0 : before.Epochs[^1].Epoch;
        foreach (var e in trial.Epochs.Where(e => e.Epoch > seen))
            _lines.Enqueue($"{trial.Id} epoch {e.Epoch}/{trial.Config.Trainable.Epochs} {Params(trial)} " +
                           string.Concat(EpochMetrics.Where(e.Metrics.ContainsKey).Select(m => $"{m}={F(e.Get(m))} ")) +
                           $"({e.Duration.TotalSeconds:F1} s)");
        if (trial.State.IsTerminal() && before?.State != trial.State)
        {
            _lines.Enqueue($"{trial.Id} {trial.State.ToString().ToLowerInvariant()}{(trial.Reason is null ? "" : ": " + trial.Reason)}");
            _lines.Enqueue(Status());
        }
    }

    /// <summary>Trials by state, the best so far and an ETA (from epochs done against epochs planned).</summary>
    public string Status()
    {
        var trials = _trials.Values.ToList();
        var byState = string.Join(", ", trials.GroupBy(t => t.State).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key.ToString().ToLowerInvariant()}"));
        var best = trials.Where(t => t.State == TrialState.Completed && !double.IsNaN(t.Objective(spec.Objective)))
            .OrderByDescending(t => spec.Objective.Score(t.Objective(spec.Objective))).FirstOrDefault();
        var total = totalTrials ?? trials.Count;
        int done = trials.Sum(t => t.State.IsTerminal() ? t.Config.Trainable.Epochs : t.Epochs.Count);
        long planned = total * (long)spec.Trainable.Epochs;
        var elapsed = DateTimeOffset.UtcNow - _started;
        var eta = done > 0 && planned > done ? TimeSpan.FromSeconds(elapsed.TotalSeconds * (planned - done) / done) : (TimeSpan?)null;
        return $"[{trials.Count(t => t.State.IsTerminal())}/{(totalTrials is null ? "?" : total)} finished: {byState}"
               + (best is null ? "" : $"; best {best.Id} {spec.Objective.Metric}={best.Objective(spec.Objective):F4}")
               + (eta is { } e ? $"; ETA {(int)e.TotalMinutes}m{e.Seconds:D2}s" : "") + "]";
    }

    /// <summary>Shows progress until <paramref name="run"/> completes.</summary>
    public async Task<T> ShowWhile<T>(Task<T> run)
    {
        if (!Interactive)
        {
            while (!run.IsCompleted)
            {
                Flush();
                await Task.WhenAny(run, Task.Delay(200));
            }
            Flush();
            return await run;
        }
        return await console.Live(Render()).AutoClear(false).StartAsync(async ctx =>
        {
            while (!run.IsCompleted)
            {
                ctx.UpdateTarget(Render());
                await Task.WhenAny(run, Task.Delay(250));
            }
            ctx.UpdateTarget(Render());
            return await run;
        });
    }

    private void Flush()
    {
        // Plain lines, never wrapped, so they can be read by tools (console.WriteLine would wrap at the width).
        while (_lines.TryDequeue(out var line)) Console.Out.WriteLine(line);
    }

    private IRenderable Render()
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(spec.Name)}[/]").Caption(Markup.Escape(Status()));
        table.AddColumns("trial", "parameters", "state", "epoch", "train loss", "test loss", "test acc");
        foreach (var t in _trials.Values.OrderBy(t => t.Id.Index))
        {
            var e = t.Last;
            table.AddRow(
                t.Id.ToString(),
                Markup.Escape(Params(t)),
                StateMarkup(t.State),
                $"{t.Epochs.Count}/{t.Config.Trainable.Epochs}",
                F(e?.Get(MetricNames.TrainLoss)),
                F(e?.Get(MetricNames.TestLoss)),
                F(e?.Get(MetricNames.TestAccuracy)));
        }
        return table;
    }

    internal static string Params(TrialRecord t) =>
        string.Join(" ", t.Config.Parameters.Select(p => $"{p.Key.Split('.')[^1]}={ResultTable.Format(p.Value)}"));

    private static string StateMarkup(TrialState s) => s switch
    {
        TrialState.Running => "[blue]running[/]",
        TrialState.Completed => "[green]completed[/]",
        TrialState.Failed => "[red]failed[/]",
        TrialState.Stopped => "[yellow]stopped[/]",
        _ => "[grey]pending[/]",
    };

    /// <summary>The metrics an epoch's line shows, those the epoch has (a program trainable reports what it likes).</summary>
    private static readonly string[] EpochMetrics = [MetricNames.TrainLoss, MetricNames.ValAccuracy, MetricNames.TestLoss, MetricNames.TestAccuracy];

    private static string F(double? v) => v is { } d && !double.IsNaN(d) ? d.ToString("F4", CultureInfo.InvariantCulture) : "";
}
