using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sweeper.Core.Spec;

/// <summary>Reads a trial's current value of a dotted key (e.g. <c>trainable.optimizer.lr</c>): its swept parameters first, else its trainable settings.</summary>
public static class TrainableValues
{
    private static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Stability.ParameterLookup Lookup(TrainableSpec trainable, IReadOnlyList<KeyValuePair<string, object>>? parameters = null)
    {
        var json = JsonSerializer.SerializeToNode(trainable, SnakeCase)!;
        return (string key, out object? value) =>
        {
            foreach (var (k, v) in parameters ?? [])
                if (k == key) { value = v; return true; }
            value = null;
            if (!key.StartsWith("trainable.", StringComparison.Ordinal)) return false;
            if (SpecSchema.IsArgKey(key)) return trainable.Args.TryGet(key[(SpecSchema.ArgsKey.Length + 1)..], out value);
            JsonNode? node = json;
            foreach (var part in key["trainable.".Length..].Split('.')) node = node?[part];
            // A known setting left at null (e.g. stable_from_epoch) exists: a change may set it.
            if (node is null) return SpecSchema.Find(key) is { Nullable: true };
            if (node is not JsonValue v2) return false;
            value = v2.GetValueKind() switch
            {
                JsonValueKind.String => v2.GetValue<string>(),
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.Number when SpecSchema.Find(key)?.Type == SettingType.Integer => v2.GetValue<long>(),
                JsonValueKind.Number => v2.GetValue<double>(),
                _ => null,
            };
            return value is not null;
        };
    }
}
