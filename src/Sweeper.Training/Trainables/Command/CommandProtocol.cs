using System.Globalization;
using System.Text;
using System.Text.Json;
using Sweeper.Core.Model;
using Sweeper.Core.Stability;

namespace Sweeper.Training.Trainables.Command;

/// <summary>
/// The lines a program trainable prints on stdout. A line whose first character is <c>{</c> is a JSON object of the
/// protocol; every other line is the program's own output (copied to the trial's log).
/// <list type="bullet">
/// <item>Epoch line: <c>{"epoch": 3, "val_accuracy": 0.91, "loss": 0.3, "checkpoint": "ckpt_3.pt"}</c>. <c>epoch</c> (an
/// integer, the next epoch) is required; <c>checkpoint</c> (a string or null) is optional; every other key is a metric and
/// must be a number (<c>loss</c> is reported as <see cref="MetricNames.TrainLoss"/> unless <c>train_loss</c> is there too).</item>
/// <item>Step line: <c>{"step": 120, "loss": 0.7, "grad_norm": 1.3, "lr": 0.01, "exponents": {"layer": [-3, -4]}}</c>.
/// <c>step</c> (an integer, increasing) and <c>loss</c> (a number) are required; <c>grad_norm</c> (a non-negative
/// number) and <c>exponents</c> (an object of layer name to an array of integers, one per channel) are optional; other
/// keys are ignored.</item>
/// </list>
/// Numbers may be Python's bare <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c> (what <c>json.dumps</c> prints), or the
/// strings <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>.
/// </summary>
public static class CommandProtocol
{
    public const string EpochKey = "epoch";
    public const string StepKey = "step";
    public const string CheckpointKey = "checkpoint";
    public const string LossKey = "loss";
    public const string GradNormKey = "grad_norm";
    public const string ExponentsKey = "exponents";

    /// <summary>The longest stdout line accepted, in bytes (1 MiB); a longer one fails the trial.</summary>
    public const int MaxLineBytes = 1 << 20;

    /// <summary>How much of an offending line an error message quotes.</summary>
    public const int QuotedLineChars = 200;

    /// <summary>Whether <paramref name="line"/> is a protocol line (its first character is <c>{</c>).</summary>
    public static bool IsProtocolLine(string line) => line.Length > 0 && line[0] == '{';

    /// <summary>Parses a protocol line: a <see cref="EpochLine"/> or a <see cref="StepLine"/>.</summary>
    /// <exception cref="FormatException">Not valid JSON, not an object, or a key of the wrong type; the message says which.</exception>
    public static ProtocolLine Parse(string line)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(QuoteNonFiniteLiterals(line), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new FormatException($"not valid JSON ({e.Message})");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException("not a JSON object");
            bool hasEpoch = root.TryGetProperty(EpochKey, out var epoch);
            bool hasStep = root.TryGetProperty(StepKey, out var step);
            if (hasEpoch && hasStep) throw new FormatException($"both \"{EpochKey}\" and \"{StepKey}\": a line reports an epoch or a step");
            if (hasEpoch) return ParseEpoch(root, epoch);
            if (hasStep) return ParseStep(root, step);
            throw new FormatException($"neither \"{EpochKey}\" nor \"{StepKey}\" (a line starting with '{{' is a protocol line)");
        }
    }

    private static EpochLine ParseEpoch(JsonElement root, JsonElement epochElement)
    {
        if (epochElement.ValueKind != JsonValueKind.Number || !epochElement.TryGetInt32(out int epoch))
            throw new FormatException($"\"{EpochKey}\" is not an integer ({Brief(epochElement.GetRawText())})");
        if (epoch < 1) throw new FormatException($"\"{EpochKey}\" is {epoch}: epochs count from 1");
        string? checkpoint = null;
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        bool hasTrainLoss = root.TryGetProperty(MetricNames.TrainLoss, out _);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (!seen.Add(property.Name)) throw new FormatException($"the key \"{property.Name}\" appears twice");
            switch (property.Name)
            {
                case EpochKey:
                    continue;
                case CheckpointKey:
                    checkpoint = property.Value.ValueKind switch
                    {
                        JsonValueKind.String when property.Value.GetString() is { Length: > 0 } s => s,
                        JsonValueKind.Null => null,
                        _ => throw new FormatException($"\"{CheckpointKey}\" is not a file name ({Brief(property.Value.GetRawText())})"),
                    };
                    continue;
            }
            double value = Number(property.Value) ?? throw new FormatException($"metric \"{property.Name}\" is not a number ({Brief(property.Value.GetRawText())})");
            metrics[property.Name == LossKey && !hasTrainLoss ? MetricNames.TrainLoss : property.Name] = value;
        }
        return new EpochLine(epoch, metrics, checkpoint);
    }

    private static StepLine ParseStep(JsonElement root, JsonElement stepElement)
    {
        if (stepElement.ValueKind != JsonValueKind.Number || !stepElement.TryGetInt64(out long step))
            throw new FormatException($"\"{StepKey}\" is not an integer ({Brief(stepElement.GetRawText())})");
        if (!root.TryGetProperty(LossKey, out var lossElement))
            throw new FormatException($"a step line needs \"{LossKey}\"");
        double loss = Number(lossElement) ?? throw new FormatException($"\"{LossKey}\" is not a number ({Brief(lossElement.GetRawText())})");
        double? gradNorm = null;
        if (root.TryGetProperty(GradNormKey, out var g) && g.ValueKind != JsonValueKind.Null)
        {
            gradNorm = Number(g) ?? throw new FormatException($"\"{GradNormKey}\" is not a number ({Brief(g.GetRawText())})");
            if (gradNorm < 0) throw new FormatException($"\"{GradNormKey}\" is negative ({g.GetRawText()})");
        }
        List<LayerExponents>? layers = null;
        if (root.TryGetProperty(ExponentsKey, out var exponents) && exponents.ValueKind != JsonValueKind.Null)
        {
            if (exponents.ValueKind != JsonValueKind.Object)
                throw new FormatException($"\"{ExponentsKey}\" is not an object of layer name to an array of integers");
            layers = [];
            foreach (var layer in exponents.EnumerateObject())
            {
                if (layer.Value.ValueKind != JsonValueKind.Array)
                    throw new FormatException($"\"{ExponentsKey}\".\"{layer.Name}\" is not an array of integers");
                var values = new int[layer.Value.GetArrayLength()];
                int i = 0;
                foreach (var e in layer.Value.EnumerateArray())
                {
                    if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out values[i]))
                        throw new FormatException($"\"{ExponentsKey}\".\"{layer.Name}\"[{i}] is not an integer ({Brief(e.GetRawText())})");
                    i++;
                }
                layers.Add(new LayerExponents(layer.Name, values));
            }
        }
        return new StepLine(new StepObservation(step, loss, gradNorm, layers));
    }

    /// <summary>A JSON number, or one of the strings NaN, Infinity, -Infinity; null for anything else.</summary>
    private static double? Number(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Number when element.TryGetDouble(out double d) => d,
        JsonValueKind.String => element.GetString() switch
        {
            "NaN" => double.NaN,
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            _ => null,
        },
        _ => null,
    };

    /// <summary>
    /// Quotes the bare <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c> tokens Python's <c>json.dumps</c> writes (outside
    /// strings, where a value starts), so that a strict JSON parser reads them as strings.
    /// </summary>
    internal static string QuoteNonFiniteLiterals(string line)
    {
        if (line.IndexOf("NaN", StringComparison.Ordinal) < 0 && line.IndexOf("Infinity", StringComparison.Ordinal) < 0) return line;
        var text = new StringBuilder(line.Length + 16);
        bool inString = false;
        char previous = '\0'; // the last non-space character outside strings
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (inString)
            {
                text.Append(c);
                if (c == '\\' && i + 1 < line.Length) text.Append(line[++i]);
                else if (c == '"') { inString = false; previous = '"'; }
                continue;
            }
            if (c == '"') { inString = true; text.Append(c); continue; }
            if (previous is ':' or '[' or ',')
            {
                foreach (var token in NonFinite)
                {
                    if (string.CompareOrdinal(line, i, token, 0, token.Length) == 0
                        && (i + token.Length == line.Length || line[i + token.Length] is ',' or '}' or ']' or ' ' or '\t' or '\r'))
                    {
                        text.Append('"').Append(token).Append('"');
                        i += token.Length - 1;
                        c = '"';
                        goto next;
                    }
                }
            }
            text.Append(c);
        next:
            if (!char.IsWhiteSpace(c)) previous = c;
        }
        return text.ToString();
    }

    private static readonly string[] NonFinite = ["NaN", "Infinity", "-Infinity"];

    /// <summary>A value quoted inside a problem's description: cut to 40 characters.</summary>
    private static string Brief(string text) => text.Length <= 40 ? text : text[..40] + "…";

    /// <summary><paramref name="text"/> cut to <see cref="QuotedLineChars"/> characters (with an ellipsis when cut).</summary>
    public static string Quote(string text) => text.Length <= QuotedLineChars ? text : text[..QuotedLineChars] + "…";

}

/// <summary>A parsed protocol line of a program trainable.</summary>
public abstract record ProtocolLine;

/// <summary>An epoch line: the epoch's metrics and, when the program saved one, its checkpoint file.</summary>
/// <param name="Epoch">The epoch (1-based).</param>
/// <param name="Metrics">Every numeric key but <c>epoch</c>, with <c>loss</c> renamed <see cref="MetricNames.TrainLoss"/>.</param>
/// <param name="Checkpoint">The checkpoint file as printed (relative to the checkpoint folder, or absolute), or null.</param>
public sealed record EpochLine(int Epoch, IReadOnlyDictionary<string, double> Metrics, string? Checkpoint) : ProtocolLine;

/// <summary>A step line: what the stability monitor is told about one training step.</summary>
public sealed record StepLine(StepObservation Observation) : ProtocolLine;
