using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Sweeper.Core.Telemetry;

namespace Sweeper.Cli.Telemetry;

/// <summary>Where this process sends its spans and metrics.</summary>
/// <param name="OtlpEndpoint">OTLP endpoint (gRPC by default, e.g. http://localhost:4317; http/protobuf: http://localhost:4318).</param>
/// <param name="Protocol"><c>grpc</c> or <c>http/protobuf</c>.</param>
/// <param name="TraceFile">With no endpoint: spans go to this OTLP-JSON lines file (null: they are not kept).</param>
public sealed record TelemetryTarget(string? OtlpEndpoint, string Protocol, string? TraceFile)
{
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string ProtocolVariable = "OTEL_EXPORTER_OTLP_PROTOCOL";

    /// <summary>The environment (OTEL_EXPORTER_OTLP_*) wins over the spec's telemetry section.</summary>
    public static TelemetryTarget Resolve(string? specEndpoint, string? specProtocol, string? traceFile)
    {
        var endpoint = Environment.GetEnvironmentVariable(EndpointVariable);
        var protocol = Environment.GetEnvironmentVariable(ProtocolVariable);
        return new TelemetryTarget(string.IsNullOrWhiteSpace(endpoint) ? specEndpoint : endpoint,
            string.IsNullOrWhiteSpace(protocol) ? specProtocol ?? "grpc" : protocol, traceFile);
    }

    public string Describe() => OtlpEndpoint is not null ? $"OTLP {Protocol} {OtlpEndpoint}" : TraceFile is not null ? $"file {TraceFile}" : "off";
}

/// <summary>The OpenTelemetry SDK of this process: tracer and meter providers for Sweeper's source and meter.</summary>
public sealed class TelemetrySession : IDisposable
{
    private readonly TracerProvider? _tracer;
    private readonly MeterProvider? _meter;

    private TelemetrySession(TracerProvider? tracer, MeterProvider? meter)
    {
        _tracer = tracer;
        _meter = meter;
    }

    public static TelemetrySession Start(TelemetryTarget target, string role)
    {
        var resource = ResourceBuilder.CreateDefault()
            .AddService(Environment.GetEnvironmentVariable("OTEL_SERVICE_NAME") ?? "sweeper",
                serviceVersion: SweeperTelemetry.Version, serviceInstanceId: $"{role}-{Environment.ProcessId}@{Environment.MachineName}")
            .AddAttributes([new("sweeper.role", role)]);
        var traces = Sdk.CreateTracerProviderBuilder().SetResourceBuilder(resource).AddSource(SweeperTelemetry.Name).SetSampler(new AlwaysOnSampler());
        MeterProvider? meter = null;
        if (target.OtlpEndpoint is { } endpoint)
        {
            var protocol = target.Protocol == "http/protobuf" ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
            traces.AddOtlpExporter(o => Configure(o, endpoint, protocol, "v1/traces"));
            meter = Sdk.CreateMeterProviderBuilder().SetResourceBuilder(resource).AddMeter(SweeperTelemetry.Name)
                .AddOtlpExporter((o, reader) =>
                {
                    Configure(o, endpoint, protocol, "v1/metrics");
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 5000;
                })
                .Build();
        }
        else if (target.TraceFile is { } file)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
            traces.AddProcessor(new BatchActivityExportProcessor(new OtlpJsonFileExporter(file), scheduledDelayMilliseconds: 1000));
        }
        else
        {
            return new TelemetrySession(null, null); // nothing to keep: no SDK, the spans are not even created
        }
        return new TelemetrySession(traces.Build(), meter);
    }

    private static void Configure(OtlpExporterOptions o, string endpoint, OtlpExportProtocol protocol, string path)
    {
        o.Protocol = protocol;
        var baseUri = endpoint.TrimEnd('/');
        // The SDK appends the signal path only for endpoints from the environment; an explicit one must carry it.
        o.Endpoint = new Uri(protocol == OtlpExportProtocol.HttpProtobuf && !baseUri.EndsWith(path, StringComparison.Ordinal) ? $"{baseUri}/{path}" : baseUri);
    }

    public void Dispose()
    {
        _tracer?.ForceFlush(5000);
        _meter?.ForceFlush(5000);
        _tracer?.Dispose();
        _meter?.Dispose();
    }
}
