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
    /// <summary>Environment variables the Kubernetes discovery options default to.</summary>
    public const string PodSelectorVariable = "SWEEPER_POD_SELECTOR", PodNamespaceVariable = "SWEEPER_POD_NAMESPACE";

    public const string ConfigMethod = "config", KubernetesMethod = "kubernetes";

    [CommandOption("--join <HOST:PORT>")]
    [Description("Address of the coordinator node (printed by 'sweeper run'). Or find the cluster with --discovery.")]
    public string Join { get; init; } = "";

    [CommandOption("--discovery <METHOD>")]
    [Description("Find the cluster through Akka Cluster Bootstrap instead of --join: 'config' (--discovery-endpoints) or 'kubernetes' (--pod-selector). Needs --management-port. The worker only joins a cluster that exists; it never forms one.")]
    public string? Discovery { get; init; }

    [CommandOption("--discovery-endpoints <HOST:PORT,...>")]
    [Description("With --discovery config: management endpoints (--management-port) to probe, at least the coordinator's.")]
    public string? DiscoveryEndpoints { get; init; }

    [CommandOption("--pod-selector <LABELS>")]
    [Description("With --discovery kubernetes: label selector of the sweep's pods (default: $SWEEPER_POD_SELECTOR, else app=sweeper).")]
    public string? PodSelector { get; init; }

    [CommandOption("--pod-namespace <NAMESPACE>")]
    [Description("With --discovery kubernetes: namespace of the sweep's pods (default: $SWEEPER_POD_NAMESPACE, else this pod's own).")]
    public string? PodNamespace { get; init; }

    [CommandOption("--slots <N>")]
    [Description("Trials this worker runs at once (default 1).")]
    [DefaultValue(1)]
    public int Slots { get; init; } = 1;

    [CommandOption("--traces <FILE>")]
    [Description("With no OTEL_EXPORTER_OTLP_ENDPOINT: write this worker's spans to FILE (OTLP-JSON lines).")]
    public string? Traces { get; init; }

    /// <summary>How this worker finds the cluster (null: <c>--join</c>); set by <see cref="Validate"/>.</summary>
    public DiscoveryOptions? DiscoveryOptions { get; private set; }

    public override ValidationResult Validate()
    {
        var discovery = CheckDiscovery(out var error);
        if (error is not null) return ValidationResult.Error(error);
        DiscoveryOptions = discovery;
        if (discovery is null)
        {
            var colon = Join.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(Join[(colon + 1)..], out var port) || port is < 1 or > 65535)
                return ValidationResult.Error($"--join expects HOST:PORT, e.g. 127.0.0.1:4053, found '{Join}'");
        }
        return Slots < 1 ? ValidationResult.Error("--slots must be at least 1") : base.Validate();
    }

    private DiscoveryOptions? CheckDiscovery(out string? error)
    {
        error = null;
        var hasJoin = !string.IsNullOrWhiteSpace(Join);
        if (Discovery is null)
        {
            if (DiscoveryEndpoints is not null || PodSelector is not null || PodNamespace is not null)
                error = "--discovery-endpoints, --pod-selector and --pod-namespace go with --discovery";
            else if (!hasJoin)
                error = "give --join <HOST:PORT> (the coordinator's address) or --discovery config|kubernetes";
            return null;
        }
        if (hasJoin) error = "give either --join or --discovery, not both";
        else if (ManagementPort is null) error = "--discovery needs --management-port: Cluster Bootstrap runs on the management endpoint";
        else if (Discovery == ConfigMethod) return ConfigDiscovery(out error);
        else if (Discovery == KubernetesMethod) return KubernetesDiscovery(out error);
        else error = $"--discovery expects '{ConfigMethod}' or '{KubernetesMethod}', found '{Discovery}'";
        return null;
    }

    private ConfigDiscovery? ConfigDiscovery(out string? error)
    {
        error = null;
        if (PodSelector is not null || PodNamespace is not null) error = "--pod-selector and --pod-namespace go with --discovery kubernetes";
        else if (string.IsNullOrWhiteSpace(DiscoveryEndpoints)) error = "--discovery config needs --discovery-endpoints HOST:PORT,... (the coordinator's --management-port, at least)";
        if (error is not null) return null;
        var endpoints = DiscoveryEndpoints!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var bad = endpoints.FirstOrDefault(e => e.LastIndexOf(':') is var colon && (colon <= 0 || !int.TryParse(e[(colon + 1)..], out var p) || p is < 1 or > 65535));
        if (bad is not null)
        {
            error = $"--discovery-endpoints expects HOST:PORT,..., e.g. coordinator:8558, found '{bad}'";
            return null;
        }
        return new ConfigDiscovery(endpoints);
    }

    private KubernetesDiscovery? KubernetesDiscovery(out string? error)
    {
        error = DiscoveryEndpoints is not null ? "--discovery-endpoints goes with --discovery config" : null;
        if (error is not null) return null;
        var selector = PodSelector ?? Environment.GetEnvironmentVariable(PodSelectorVariable) ?? "app=sweeper";
        var ns = PodNamespace ?? Environment.GetEnvironmentVariable(PodNamespaceVariable);
        return new KubernetesDiscovery(selector, string.IsNullOrWhiteSpace(ns) ? null : ns);
    }
}

/// <summary>
/// <c>sweeper worker --join host:port</c> (or <c>--discovery config|kubernetes</c>): adds this machine's slots to a
/// running sweep; exits when the sweep ends.
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
        var seed = settings.DiscoveryOptions is null ? $"{(settings.Tls is null ? "akka.tcp" : "akka.ssl.tcp")}://{SweeperHosting.SystemName}@{settings.Join}" : null;
        var joining = settings.DiscoveryOptions is { } discovery ? $"finding the cluster through {discovery.Describe()}" : $"joining {seed}";
        var node = settings.Node(localWorker: false, discovery: settings.DiscoveryOptions);
        string? fenced;
        try
        {
            fenced = await SweepHost.RunWorkerAsync(seed, settings.Slots, TrainableFactories.Default, node, address =>
                AnsiConsole.MarkupLine($"worker [bold]{Markup.Escape(address)}[/] with {settings.Slots} slot(s) × {node.TrialThreads(settings.Slots)} thread(s), {Markup.Escape(joining)}; {Markup.Escape(settings.DescribeManagement(node))}traces: {Markup.Escape(telemetry.Describe())}"), linked.Token);
        }
        catch (ManagementStartException ex) { return Errors.Report(ex.Message); }
        if (fenced is not null) return Errors.Report($"this worker fenced itself: {fenced}; its trials were stopped (they continue elsewhere)");
        AnsiConsole.MarkupLine(signals.Requested ? "worker stopped" : "the sweep's coordinator left; worker done");
        return signals.Requested ? signals.ExitCode : Errors.Ok;
    }
}
