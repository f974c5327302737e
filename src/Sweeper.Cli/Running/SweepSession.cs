using Spectre.Console;
using Sweeper.Cli.Output;
using Sweeper.Cli.Telemetry;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Hosting;
using Sweeper.Cluster.Journal;
using Sweeper.Core.Reporting;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;

namespace Sweeper.Cli.Running;

/// <summary>
/// Runs (or resumes) a sweep in a run directory with live progress, then writes and shows the results. SIGINT and
/// SIGTERM stop it (exit 130 or 143), a second one at once (see <see cref="ShutdownSignals"/>); so does a stop request
/// (<c>sweeper stop</c>, exit 130), by default after the running trials' current epoch. Trials stopped so continue
/// with <c>sweeper resume</c>.
/// </summary>
public static class SweepSession
{
    public static async Task<int> RunAsync(SweepSpec spec, ITrialSource source, RunDirectory runDir, NodeOptions node, CancellationToken cancellationToken)
    {
        var console = AnsiConsole.Console;
        var telemetry = TelemetryTarget.Resolve(spec.Telemetry.OtlpEndpoint, spec.Telemetry.Protocol, runDir.TracesPath);
        using var session = TelemetrySession.Start(telemetry, "coordinator");
        using var signals = ShutdownSignals.Listen("the sweep");
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(signals.Token, cancellationToken);
        var view = new ProgressView(console, spec, source.Total);
        var coordinator = new CoordinatorOptions(runDir.Path, runDir.CheckpointDir(spec));
        var requested = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>(); // the stop reasons of the requests taken
        var run = SweepHost.RunAsync(spec, source, coordinator, TrainableFactories.Default, node, view.OnTrial,
            address =>
            {
                int slots = node.LocalSlots(spec);
                var roles = node.LocalWorker ? $"coordinator, worker: {slots} slot(s) × {node.TrialThreads(slots)} thread(s)" : "coordinator";
                console.MarkupLine($"node [bold]{Markup.Escape(address)}[/] ({roles}); traces: {Markup.Escape(telemetry.Describe())}");
                if (!node.LocalWorker)
                    console.MarkupLine($"workers join with: [bold]sweeper worker --join {Markup.Escape(address[(address.IndexOf('@') + 1)..])}[/]");
                if (node.Management is { } m)
                    console.MarkupLine($"management http://{Markup.Escape(m.Hostname)}:{m.Port} ({SweeperManagement.AlivePath}, {SweeperManagement.ReadyPath}); workers may find this node with: "
                        + $"[bold]sweeper worker --discovery config --discovery-endpoints {Markup.Escape(m.Hostname)}:{m.Port} --management-port PORT[/]");
            }, linked.Token, found =>
            {
                if (found.Request is not { } request)
                {
                    Console.Error.WriteLine("warning: " + found.Ignored);
                    return;
                }
                requested[request.Reason] = true;
                Console.Error.WriteLine(request.Now
                    ? $"stop request: {request.Reason}; stopping the sweep at once (trials continue from their newest checkpoint on resume), results are written"
                    : $"stop request: {request.Reason}; running trials finish their current epoch and checkpoint it, nothing new starts, then results are written");
            });
        SweepResult result;
        try { result = await view.ShowWhile(run); }
        catch (ManagementStartException ex) { return Errors.Report(ex.Message); }
        catch (CoordinatorFailedException ex)
        {
            // The sweep cannot go on (its journal cannot be written, ...): keep what is known, say why in one line.
            if (ex.Failure.SoFar is not { } soFar) return Errors.Report(ex.Message);
            try { ReportWriter.WriteAll(soFar, runDir.Path); }
            catch (Exception write) when (write is IOException or UnauthorizedAccessException)
            {
                return Errors.Report($"{ex.Message}; the results could not be written either: {write.Message}");
            }
            return Errors.Report($"{ex.Message}; results so far in {runDir.Path}");
        }
        ReportWriter.WriteAll(result, runDir.Path);
        ResultsView.Write(console, result, runDir.Path);
        if (signals.Requested) return signals.ExitCode;
        if (result.StopReason is { } why && requested.ContainsKey(why)) return Errors.Interrupted; // as for Ctrl+C
        return result.Trials.Any(t => t.State == TrialState.Completed) ? Errors.Ok : Errors.Report("no trial completed; see the reasons in the table", Errors.Failed);
    }
}
