using System.Buffers;
using System.Globalization;
using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Event;
using Akka.Serialization;
using Sweeper.Cluster.Messages;

namespace Sweeper.Cluster.Serialization;

/// <summary>
/// System.Text.Json serializer for every <see cref="ISweeperMessage"/>: a short string manifest per type, UTF-8 JSON
/// payloads. Data-free singleton messages deserialize to their single instance. Its <see cref="Hocon"/> also puts
/// <see cref="LocalOnlyJsonSerializer"/> in the place of Akka's default Newtonsoft serializer, so that a message from
/// another node reaches no serializer but this one and Akka's own (an unknown manifest is refused and logged).
/// </summary>
public sealed class SweeperMessageSerializer : SerializerWithStringManifest
{
    public const int Id = 4711;

    public static readonly string Hocon = $$"""
        akka.actor {
          serializers.sweeper = "Sweeper.Cluster.Serialization.SweeperMessageSerializer, Sweeper.Cluster"
          serialization-bindings { "Sweeper.Cluster.Messages.ISweeperMessage, Sweeper.Cluster" = sweeper }
          serialization-identifiers { "Sweeper.Cluster.Serialization.SweeperMessageSerializer, Sweeper.Cluster" = {{Id}} }
          # Akka's default serializer (Newtonsoft.Json, id 1, bound to System.Object) is replaced: it reads back only
          # what this process wrote (serialize-messages), never a payload from the network.
          serializers.json = "Sweeper.Cluster.Serialization.LocalOnlyJsonSerializer, Sweeper.Cluster"
          serialization-identifiers { "Sweeper.Cluster.Serialization.LocalOnlyJsonSerializer, Sweeper.Cluster" = {{LocalOnlyJsonSerializer.Id}} }
        }
        """;

    private static readonly (string Manifest, Type Type, object? Singleton)[] Table =
    [
        ("register-worker", typeof(WorkerCommands.RegisterWorker), null),
        ("worker-registered", typeof(WorkerCommands.WorkerRegistered), null),
        ("assign-trial", typeof(WorkerCommands.AssignTrial), null),
        ("stop-trial", typeof(WorkerCommands.StopTrial), null),
        ("stop-after-epoch", typeof(WorkerCommands.StopAfterEpoch), null),
        ("checkpoint-recorded", typeof(WorkerCommands.CheckpointRecorded), null),
        ("trial-started", typeof(TrialEvents.TrialStarted), null),
        ("epoch-completed", typeof(TrialEvents.EpochCompleted), null),
        ("checkpoint-saved", typeof(TrialEvents.CheckpointSaved), null),
        ("trial-completed", typeof(TrialEvents.TrialCompleted), null),
        ("trial-paused", typeof(TrialEvents.TrialPaused), null),
        ("trial-failed", typeof(TrialEvents.TrialFailed), null),
        ("trial-crashed", typeof(TrialEvents.TrialCrashed), null),
        ("trial-unstable", typeof(TrialEvents.TrialUnstable), null),
        ("subscribe", typeof(SweepQueries.Subscribe), SweepQueries.Subscribe.Instance),
        ("cancel-sweep", typeof(SweepQueries.CancelSweep), null),
        ("get-status", typeof(SweepQueries.GetStatus), SweepQueries.GetStatus.Instance),
        ("sweep-status", typeof(SweepQueries.SweepStatus), null),
        ("trial-updated", typeof(SweepQueries.TrialUpdated), null),
        ("sweep-completed", typeof(SweepQueries.SweepCompleted), null),
    ];

    private static readonly Dictionary<Type, string> ManifestOf = Table.ToDictionary(t => t.Type, t => t.Manifest);
    private static readonly Dictionary<string, (Type Type, object? Singleton)> TypeOf = Table.ToDictionary(t => t.Manifest, t => (t.Type, t.Singleton));

    public static readonly JsonSerializerOptions Options = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new ScalarObjectConverter() },
    };

    private ILoggingAdapter? _log; // created on first use: the actor system is not ready while serializers are built

    public SweeperMessageSerializer(ExtendedActorSystem system) : base(system) { }

    private ILoggingAdapter Log => _log ??= Logging.GetLogger(system, typeof(SweeperMessageSerializer));

    public override int Identifier => Id;

    /// <summary>Every message type this serializer handles.</summary>
    public static IEnumerable<Type> MessageTypes => Table.Select(t => t.Type);

    public override string Manifest(object o) =>
        ManifestOf.TryGetValue(o.GetType(), out var m) ? m : throw new ArgumentException($"{o.GetType()} is not a Sweeper message", nameof(o));

    public override byte[] ToBinary(object obj)
    {
        var type = obj.GetType();
        if (!ManifestOf.ContainsKey(type)) throw new ArgumentException($"{type} is not a Sweeper message", nameof(obj));
        return TypeOf[ManifestOf[type]].Singleton is not null ? [] : JsonSerializer.SerializeToUtf8Bytes(obj, type, Options);
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!TypeOf.TryGetValue(manifest, out var entry))
        {
            Log.Error("Refused a message with the unknown manifest '{0}' ({1} bytes)", Printable(manifest), bytes.Length);
            throw new SerializationException($"unknown Sweeper message manifest '{Printable(manifest)}'");
        }
        if (entry.Singleton is not null) return entry.Singleton;
        try
        {
            return JsonSerializer.Deserialize(bytes, entry.Type, Options) ?? throw new SerializationException($"empty payload for '{manifest}'");
        }
        catch (JsonException ex)
        {
            Log.Error("Refused a malformed '{0}' message ({1} bytes): {2}", manifest, bytes.Length, ex.Message);
            throw new SerializationException($"malformed '{manifest}' message: {ex.Message}", ex);
        }
    }

    /// <summary>A manifest from the network as it may be logged: at most 64 characters, control characters replaced.</summary>
    private static string Printable(string? manifest)
    {
        var text = manifest ?? "";
        if (text.Length > 64) text = text[..64] + "…";
        return new string(text.Select(c => char.IsControl(c) ? '?' : c).ToArray());
    }

    /// <summary>
    /// Parameter values are <c>object</c>s holding a string, bool, long or double; this keeps their type across the
    /// wire (a double is always written with a fraction or exponent, so 1.0 comes back as a double).
    /// </summary>
    private sealed class ScalarObjectConverter : JsonConverter<object>
    {
        public override object? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
        {
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.True => true,
            JsonTokenType.False => false,
            JsonTokenType.Null => null,
            JsonTokenType.Number when reader.TryGetInt64(out var l) && !RawHasFraction(ref reader) => l,
            JsonTokenType.Number => reader.GetDouble(),
            _ => throw new JsonException($"a parameter value must be a string, number or boolean, found {reader.TokenType}"),
        };

        public override void Write(Utf8JsonWriter writer, object value, JsonSerializerOptions options)
        {
            switch (value)
            {
                case string s: writer.WriteStringValue(s); break;
                case bool b: writer.WriteBooleanValue(b); break;
                case long or int or short or byte: writer.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture)); break;
                case double or float:
                    var d = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                    var text = d.ToString("R", CultureInfo.InvariantCulture);
                    if (double.IsFinite(d) && !text.Contains('.') && !text.Contains('E')) text += ".0";
                    if (double.IsFinite(d)) writer.WriteRawValue(text); else writer.WriteStringValue(text);
                    break;
                default: throw new JsonException($"cannot send a parameter value of type {value.GetType()}");
            }
        }

        private static bool RawHasFraction(ref Utf8JsonReader reader)
        {
            var span = reader.HasValueSequence ? BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan.ToArray();
            return span.Any(c => c is (byte)'.' or (byte)'e' or (byte)'E');
        }
    }
}
