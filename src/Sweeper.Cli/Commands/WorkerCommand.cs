using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Output;
using Sweeper.Cli.Running;
using Sweeper.Cli.Telemetry;
using Sweeper.Cluster.Hosting;

namespace Sweeper.Cli.Commands;

public sealed class WorkerSettings : NodeSettings
{
    [CommandOption("--join <HOST:PORT>")]
    [Description("Address of the coordinator node (printed by 'sweeper run').")]
    public string Join { get; init; } = "";

    [CommandOption("--slots <N>")]
    [Description("Trials this worker runs at once (default 1).")]
    [DefaultValue(1)]
    public int Slots { get; init; } = 1;



    [CommandOption("--traces <FILE>")]
    [Description("With no OTEL_EXPORTER_OTLP_ENDPOINT: write this worker's spans to FILE (OTLP-JSON lines).")]
    public string? Traces { get; init; }

    public override ValidationResult Validate()
    {
        if (string.IsNullOrWhiteSpace(Join)) return ValidationResult.Error("--join <HOST:PORT> is required");
        var colon = Join.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(Join[(colon + 1)..], out var port) || port is < 1 or > 65535)
            return ValidationResult.Error($"--join expects HOST:PORT, e.g. 127.0.0.1:4053, found '{Join}'");
        return Slots < 1 ? ValidationResult.Error("--slots must be at least 1") : base.Validate();
    }
}

/// <summary>
/// <c>sweeper worker --join host:port</c>: adds this machine's slots to a running sweep; exits when the sweep ends.
/// SIGINT or SIGTERM: leaves the cluster gracefully and exits with 130 or 143; a second one exits at once.
/// </summary>
public sealed class WorkerCommand : AsyncCommand<WorkerSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, WorkerSettings settings, CancellationToken cancellationToken)
    {
        using var signals = ShutdownSignals.Listen("this worker (it leaves the cluster; the coordinator queues its trials again)");
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(signals.Token, cancellationToken);
        var telemetry = TelemetryTarget.Resolve(null, null, settings.Traces);
        using var session = TelemetrySession.Start(telemetry, "worker");
        var seed = $"{(settings.Tls is null ? "akka.tcp" : "akka.ssl.tcp")}://{SweeperHosting.SystemName}@{settings.Join}";
        var fenced = await SweepHost.RunWorkerAsync(seed, settings.Slots, TrainableFactories.Default, new NodeOptions(settings.Hostname, settings.Port, Tls: settings.Tls), address =>
            AnsiConsole.MarkupLine($"worker [bold]{Markup.Escape(address)}[/] with {settings.Slots} slot(s), joining {Markup.Escape(seed)}; traces: {Markup.Escape(telemetry.Describe())}"), linked.Token);
        if (fenced is not null) return Errors.Report($"this worker fenced itself: {fenced}; its trials were stopped (they continue elsewhere)");
        AnsiConsole.MarkupLine(signals.Requested ? "worker stopped" : "the sweep's coordinator left; worker done");
        return signals.Requested ? signals.ExitCode : Errors.Ok;
    }
}
