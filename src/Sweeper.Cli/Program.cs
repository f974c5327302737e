using Spectre.Console.Cli;
using Sweeper.Cli.Commands;
using Sweeper.Cli.Output;

namespace Sweeper.Cli;

public static class Program
{
    /// <summary>The program's version (Directory.Build.props), with the commit it was built from when known.</summary>
    public static string Version { get; } =
        System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(typeof(Program).Assembly)?.InformationalVersion
        ?? "unknown";

    public static async Task<int> Main(string[] args)
    {
        Running.NativeMemory.Configure(); // before libtorch allocates: glibc's malloc arenas bounded
        Benchmarks.PyTorch.PyTorchAnchor.Environment = Running.NativeMemory.ForChildren(); // the PyTorch side of a bench allocates as we do
        // Redirected output (CI, pipes, tests) gets wide tables instead of 80-column wrapping.
        if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 240;
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("sweeper");
            config.SetApplicationVersion(Version);
            config.PropagateExceptions();
            config.UseStrictParsing(); // an unknown option is an error (exit 2), not silently ignored
            config.AddCommand<RunCommand>("run").WithDescription("Run a sweep: expand the spec into trials, train them, write the results.")
                .WithExample("run", "configs/quickstart.yaml");
            config.AddCommand<ResumeCommand>("resume").WithDescription("Continue an interrupted sweep from its run directory's journal.")
                .WithExample("resume", "runs/quickstart-20261126-101500");
            config.AddCommand<StopCommand>("stop").WithDescription("Stop the sweep running in a run directory: after the running trials' current epoch, or --now.")
                .WithExample("stop", "runs/quickstart-20261126-101500");
            config.AddCommand<WorkerCommand>("worker").WithDescription("Join a running sweep's cluster as a worker.")
                .WithExample("worker", "--join", "127.0.0.1:4053", "--slots", "2");
            config.AddCommand<PlanCommand>("plan").WithDescription("List the trials a spec would start (deterministic for its seed).")
                .WithExample("plan", "configs/quickstart.yaml", "--limit", "20");
            config.AddCommand<ExportCommand>("export").WithDescription("Integer weights, PO2 exponents and bit widths of a trained checkpoint, as an accelerator loads them.")
                .WithExample("export", "runs/q-20261126-101500/checkpoints/t0001/a0001/epoch-0004.ckpt", "--output", "t0001.json");
            config.AddCommand<QuantizeCommand>("quantize").WithDescription("Quantize tensors given as JSON with the PO2 quantizers (golden-case format).")
                .WithExample("quantize", "--input", "request.json", "--output", "result.json");
            config.AddBranch("traces", traces =>
            {
                traces.SetDescription("Traces written to a run directory.");
                traces.AddCommand<TracesPushCommand>("push").WithDescription("Send a run's traces.jsonl to an OTLP/HTTP backend (Jaeger, Aspire).")
                    .WithExample("traces", "push", "runs/quickstart-20261126-101500", "--endpoint", "http://localhost:4318");
            });
            config.AddBranch("bench", bench =>
            {
                bench.SetDescription("Benchmarks that print figures and ratios.");
                bench.AddCommand<OrchestrationBenchCommand>("orchestration").WithDescription("Zero-length trials through the full path: trials/s, overhead, results/s.");
                bench.AddCommand<SearchBenchCommand>("search").WithDescription("TPE against random search on synthetic objectives.");
                bench.AddCommand<QuantizerBenchCommand>("quantizers").WithDescription("Training-step time per quantizer method against float.");
                bench.AddCommand<StabilityBenchCommand>("stability").WithDescription("The stability monitor's cost per step against the step time.");
                bench.AddCommand<TrialBenchCommand>("trial").WithDescription("The first trial of a sweep as a whole process: wall time, epochs, peak RSS; --compare-pytorch runs it in PyTorch too.");
                bench.AddCommand<ThreadsBenchCommand>("threads").WithDescription("One trial's training step with one intra-op thread and with N: the speed-up --threads-per-trial gives.");
                bench.AddCommand<TelemetryBenchCommand>("telemetry").WithDescription("A sweep with telemetry off and on: wall times and overhead.");
                bench.AddCommand<MemoryBenchCommand>("memory").WithDescription("N tiny real trainings through one worker (1 slot): RSS after each stage, growth, peak.");
            });
            config.AddCommand<ReportCommand>("report").WithDescription("Rebuild a run's results without running anything; add groups.csv and report.html.").WithExample("report", "runs/quickstart-20261126-101500", "--group-by", "trainable.optimizer.lr");
            config.AddCommand<StatusCommand>("status").WithDescription("Where a sweep stands (running, finished or interrupted), read without disturbing it.").WithExample("status", "runs/quickstart-20261126-101500", "--watch", "5");
            config.AddCommand<LsCommand>("ls").WithDescription("List the run directories in a folder: name, start, state, trials, best.").WithExample("ls", "runs");
            config.AddCommand<ValidateCommand>("validate").WithDescription("Check a spec and list every problem (exit 0 or 2).")
                .WithExample("validate", "configs/quickstart.yaml");
            config.AddCommand<SchemaCommand>("schema").WithDescription("Print the JSON Schema of a sweep spec, for editors that complete and check keys.")
                .WithExample("schema", "--output", "sweep.schema.json");
        });
        try
        {
            return await app.RunAsync(args);
        }
        catch (CommandParseException ex)
        {
            return Errors.Report(ex.Message, Errors.InvalidInput);
        }
        catch (CommandRuntimeException ex)
        {
            return Errors.Report(ex.Message, Errors.InvalidInput);
        }
        catch (Exception ex)
        {
            // No stack trace for users; the type and message say what went wrong.
            return Errors.Report($"{ex.GetType().Name}: {ex.Message}");
        }
    }
}
