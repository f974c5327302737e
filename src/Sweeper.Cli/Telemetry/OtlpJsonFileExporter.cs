using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OpenTelemetry;
using OpenTelemetry.Resources;

namespace Sweeper.Cli.Telemetry;

/// <summary>
/// Writes spans as OTLP-JSON lines (one <c>ExportTraceServiceRequest</c> per line, the OTLP/HTTP JSON encoding), so
/// a run keeps its trace without any network, and <c>sweeper traces push</c> can send it to a backend later.
/// </summary>
public sealed class OtlpJsonFileExporter(string path) : BaseExporter<Activity>
{
    private readonly Lock _gate = new();

    public string Path { get; } = path;

    public override ExportResult Export(in Batch<Activity> batch)
    {
        var spans = new List<Activity>();
        foreach (var activity in batch) spans.Add(activity);
        if (spans.Count == 0) return ExportResult.Success;
        var line = Encode(spans, ParentProvider?.GetResource() ?? Resource.Empty);
        try
        {
            lock (_gate) File.AppendAllText(Path, line + "\n", new UTF8Encoding(false));
            return ExportResult.Success;
        }
        catch (IOException)
        {
            return ExportResult.Failure;
        }
    }

    /// <summary>One OTLP-JSON <c>ExportTraceServiceRequest</c> for the spans.</summary>
    public static string Encode(IReadOnlyList<Activity> spans, Resource resource)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteStartArray("resourceSpans");
            w.WriteStartObject();
            w.WriteStartObject("resource");
            WriteAttributes(w, resource.Attributes.Select(a => new KeyValuePair<string, object?>(a.Key, a.Value)));
            w.WriteEndObject();
            w.WriteStartArray("scopeSpans");
            foreach (var scope in spans.GroupBy(s => (s.Source.Name, s.Source.Version)))
            {
                w.WriteStartObject();
                w.WriteStartObject("scope");
                w.WriteString("name", scope.Key.Name);
                if (!string.IsNullOrEmpty(scope.Key.Version)) w.WriteString("version", scope.Key.Version);
                w.WriteEndObject();
                w.WriteStartArray("spans");
                foreach (var s in scope) WriteSpan(w, s);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteSpan(Utf8JsonWriter w, Activity s)
    {
        w.WriteStartObject();
        w.WriteString("traceId", s.TraceId.ToHexString());
        w.WriteString("spanId", s.SpanId.ToHexString());
        if (s.ParentSpanId != default) w.WriteString("parentSpanId", s.ParentSpanId.ToHexString());
        w.WriteString("name", s.DisplayName);
        w.WriteNumber("kind", s.Kind switch
        {
            ActivityKind.Server => 2, ActivityKind.Client => 3, ActivityKind.Producer => 4, ActivityKind.Consumer => 5, _ => 1,
        });
        w.WriteString("startTimeUnixNano", Nanos(s.StartTimeUtc));
        w.WriteString("endTimeUnixNano", Nanos(s.StartTimeUtc + s.Duration));
        WriteAttributes(w, s.TagObjects);
        w.WriteStartArray("events");
        foreach (var e in s.Events)
        {
            w.WriteStartObject();
            w.WriteString("timeUnixNano", Nanos(e.Timestamp.UtcDateTime));
            w.WriteString("name", e.Name);
            WriteAttributes(w, e.Tags);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("status");
        w.WriteNumber("code", s.Status switch { ActivityStatusCode.Ok => 1, ActivityStatusCode.Error => 2, _ => 0 });
        if (!string.IsNullOrEmpty(s.StatusDescription)) w.WriteString("message", s.StatusDescription);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteAttributes(Utf8JsonWriter w, IEnumerable<KeyValuePair<string, object?>> attributes)
    {
        w.WriteStartArray("attributes");
        foreach (var (key, value) in attributes)
        {
            if (value is null) continue;
            w.WriteStartObject();
            w.WriteString("key", key);
            w.WriteStartObject("value");
            switch (value)
            {
                case bool b: w.WriteBoolean("boolValue", b); break;
                case long or int or short or byte:
                    w.WriteString("intValue", Convert.ToInt64(value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)); break;
                case double d when double.IsFinite(d): w.WriteNumber("doubleValue", d); break;
                case float f when float.IsFinite(f): w.WriteNumber("doubleValue", f); break;
                default: w.WriteString("stringValue", Convert.ToString(value, CultureInfo.InvariantCulture)); break;
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static string Nanos(DateTime utc) =>
        ((utc.Ticks - DateTime.UnixEpoch.Ticks) * 100L).ToString(CultureInfo.InvariantCulture);
}
