using System.Globalization;
using System.Text.Json;
using Sweeper.Quantization.Po2;

namespace Sweeper.Quantization.Service;

/// <summary>Strict parsing and validation of <see cref="QuantizeService"/> requests.</summary>
internal static class QuantizeRequestParser
{
    /// <summary>Largest accepted number of elements in one request and in all requests of an input together.</summary>
    public const long MaxElements = QuantizeService.MaxTotalElements;

    /// <summary>Largest |exponent| / |log2 scale| accepted from a request (keeps code · 2^e finite and normal in float32).</summary>
    public const int MaxAbsExponent = 100;

    private const string FieldMethod = "method";
    private const string FieldBits = "bits";
    private const string FieldChannelAxis = "channel_axis";
    private const string FieldShape = "shape";
    private const string FieldInput = "input";
    private const string FieldOptions = "options";
    private const string FieldName = "name";
    private const string FieldUpstream = "upstream";

    /// <summary>Fields of a request; the descriptive fields of a golden case are accepted and ignored, except per_channel, which must agree with channel_axis.</summary>
    private static readonly string[] RequestFields =
        [FieldMethod, FieldBits, FieldChannelAxis, FieldShape, FieldInput, FieldOptions, FieldName, FieldUpstream, "per_channel", "layout", "note", "tags", "provenance"];

    /// <summary>Valid options per method, in documentation order.</summary>
    private static IReadOnlyDictionary<string, string[]> OptionsByMethod { get; } = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        [Po2Quantizers.MethodNames.LegacyAutoPo2] = ["iterations"],
        [Po2Quantizers.MethodNames.MsqePo2] = ["init_exponent", "lls_iters", "line_search", "line_search_range", "outlier_sigma", "weights"],
        [Po2Quantizers.MethodNames.LearnablePo2] = ["mode", "log2_scale", "min_init_scale", "outlier_mask", "weights"],
        [Po2Quantizers.MethodNames.Lsq] = ["step"],
    };

    public static (IReadOnlyList<QuantizeRequest> Requests, bool IsArray) Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json.Length > QuantizeService.MaxInputBytes || System.Text.Encoding.UTF8.GetByteCount(json) > QuantizeService.MaxInputBytes)
            throw new QuantizeRequestException($"The input is larger than {QuantizeService.MaxInputBytes >> 20} MiB, the most accepted (split it).");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            var line = ex.LineNumber + 1;
            var position = ex.BytePositionInLine + 1;
            var where = line is null ? string.Empty : $" at line {line}, position {position}";
            throw new QuantizeRequestException($"Malformed JSON{where}: {StripLocation(ex.Message)}", line: line, position: position, inner: ex);
        }

        using (document)
        {
            var root = document.RootElement;
            switch (root.ValueKind)
            {
                case JsonValueKind.Object:
                    return ([ParseRequest(root, 0)], false);
                case JsonValueKind.Array:
                    if (root.GetArrayLength() > QuantizeService.MaxRequests)
                        throw new QuantizeRequestException($"{root.GetArrayLength()} requests; at most {QuantizeService.MaxRequests} are accepted at once (split the input).");
                    var list = new List<QuantizeRequest>(root.GetArrayLength());
                    var index = 0;
                    long total = 0;
                    foreach (var element in root.EnumerateArray())
                    {
                        if (element.ValueKind != JsonValueKind.Object)
                            throw new QuantizeRequestException($"Request {index}: expected a JSON object, got {Describe(element)}.", index);

                        var request = ParseRequest(element, index);
                        total += request.Shape.Aggregate(1L, (p, d) => p * d);
                        if (total > MaxElements)
                            throw new QuantizeRequestException($"Request {index}: the requests up to this one hold {total} elements together; at most {MaxElements} (2^24) are accepted at once (split the input).", index);
                        list.Add(request);
                        index++;
                    }

                    return (list, true);
                default:
                    throw new QuantizeRequestException($"Expected a request object or an array of request objects, got {Describe(root)}.");
            }
        }
    }

    private static string StripLocation(string message)
    {
        // System.Text.Json appends " LineNumber: n | BytePositionInLine: m." (zero-based); we report one-based ourselves.
        var i = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return i > 0 ? message[..i] : message;
    }

    private static QuantizeRequest ParseRequest(JsonElement element, int index)
    {
        string? name = null;
        if (element.TryGetProperty(FieldName, out var nameElement) && nameElement.ValueKind == JsonValueKind.String)
            name = nameElement.GetString();

        var ctx = new Context(index, name);
        var fields = ctx.Properties(element, RequestFields, "field", string.Empty, "fields");
        if (fields.TryGetValue(FieldName, out var n) && n.ValueKind != JsonValueKind.String && n.ValueKind != JsonValueKind.Null)
            throw ctx.Error($"field 'name' must be a string, got {Describe(n)}.");

        var method = ctx.Require(fields, FieldMethod);
        if (method.ValueKind != JsonValueKind.String)
            throw ctx.Error($"field 'method' must be a string, got {Describe(method)}.");

        var methodName = method.GetString()!;
        if (!OptionsByMethod.TryGetValue(methodName, out var validOptions))
            throw ctx.Error($"unknown method '{methodName}'; valid methods: {string.Join(", ", Po2Quantizers.MethodNames.All)}.");

        var bits = ctx.Int(ctx.Require(fields, FieldBits), FieldBits);
        if (bits < Po2Math.MinBits || bits > Po2Math.MaxBits)
            throw ctx.Error($"bits {bits} is out of range; valid bits: {Po2Math.MinBits}..{Po2Math.MaxBits}.");

        var shape = ParseShape(ctx, ctx.Require(fields, FieldShape));
        var rank = shape.Length;
        int? axis = null;
        var axisElement = ctx.Require(fields, FieldChannelAxis);
        if (axisElement.ValueKind != JsonValueKind.Null)
        {
            var a = ctx.Int(axisElement, FieldChannelAxis);
            if (a < 0 || a >= rank)
                throw ctx.Error($"channel_axis {a} is out of range for shape {FormatShape(shape)} (rank {rank}); use null (per-tensor) or an axis in 0..{rank - 1}.");

            axis = a;
        }

        if (fields.TryGetValue("per_channel", out var perChannel))
        {
            if (perChannel.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                throw ctx.Error($"field 'per_channel' must be true or false, got {Describe(perChannel)}.");
            if (perChannel.GetBoolean() != axis.HasValue)
                throw ctx.Error($"per_channel is {(perChannel.GetBoolean() ? "true" : "false")} but channel_axis is {(axis is null ? "null" : axis.Value.ToString(CultureInfo.InvariantCulture))}.");
        }

        var numel = shape.Aggregate(1L, (p, d) => p * d);
        var inputElement = ctx.Require(fields, FieldInput);
        if (inputElement.ValueKind != JsonValueKind.Array)
            throw ctx.Error($"field 'input' must be an array of numbers, got {Describe(inputElement)}.");

        var inputLength = inputElement.GetArrayLength();
        if (inputLength != numel)
            throw ctx.Error($"shape {FormatShape(shape)} has {numel} elements but input has {inputLength} values.");

        var input = ctx.Floats(inputElement, FieldInput, requireNonNegative: false);
        float[]? upstream = null;
        if (fields.TryGetValue(FieldUpstream, out var upstreamElement) && upstreamElement.ValueKind != JsonValueKind.Null)
        {
            if (upstreamElement.ValueKind != JsonValueKind.Array)
                throw ctx.Error($"field 'upstream' must be null or an array of numbers (the gradient at the quantizer's output, row-major like input), got {Describe(upstreamElement)}.");
            if (upstreamElement.GetArrayLength() != numel)
                throw ctx.Error($"shape {FormatShape(shape)} has {numel} elements but upstream has {upstreamElement.GetArrayLength()} values.");

            upstream = ctx.Floats(upstreamElement, FieldUpstream, requireNonNegative: false);
        }

        var channels = axis is int ax ? shape[ax] : 1;

        var optionsElement = fields.TryGetValue(FieldOptions, out var o) ? o : default;
        Dictionary<string, JsonElement> options;
        if (optionsElement.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
            options = [];
        else if (optionsElement.ValueKind != JsonValueKind.Object)
            throw ctx.Error($"field 'options' must be an object, got {Describe(optionsElement)}.");
        else
            options = ctx.Properties(optionsElement, validOptions, "option", $" for method '{methodName}'", "options");

        QuantizeRequestOptions parsed = methodName switch
        {
            Po2Quantizers.MethodNames.LegacyAutoPo2 => ParseLegacy(ctx, options),
            Po2Quantizers.MethodNames.MsqePo2 => ParseMsqe(ctx, options, numel, channels),
            Po2Quantizers.MethodNames.LearnablePo2 => ParseLearnable(ctx, options, numel, channels),
            _ => ParseLsq(ctx, options, channels),
        };

        if (upstream is not null)
        {
            CheckWeightsForBackward(ctx, parsed switch
            {
                MsqePo2RequestOptions m => m.Weights,
                LearnablePo2RequestOptions l => l.Weights,
                _ => null,
            });
        }

        return new QuantizeRequest(index, name, methodName, bits, axis, shape, input, parsed, upstream);
    }

    /// <summary>
    /// With <c>upstream</c>, MSQE weights reach the training quantizer as its second-moment state v = w² (it weighs the
    /// MSQE by sqrt(v) in float32), so each weight must come back exactly: sqrt(w·w) == w in float32.
    /// </summary>
    private static void CheckWeightsForBackward(Context ctx, float[]? weights)
    {
        if (weights is null) return;

        for (var i = 0; i < weights.Length; i++)
        {
            var w = weights[i];
            if (MathF.Sqrt(w * w) != w)
            {
                throw ctx.Error(
                    $"options.weights[{i}] = {w.ToString("R", CultureInfo.InvariantCulture)} cannot be used with 'upstream': the training quantizer takes MSQE weights "
                    + "as sqrt(second moment) in float32, and sqrt(w·w) does not give this weight back (use 0 or values between about 1.1e-19 and 1.8e19).");
            }
        }
    }

    private static long[] ParseShape(Context ctx, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Array || element.GetArrayLength() == 0)
            throw ctx.Error($"field 'shape' must be a non-empty array of positive integers, got {Describe(element)}.");

        var shape = new long[element.GetArrayLength()];
        var i = 0;
        long product = 1;
        foreach (var d in element.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var v) || v < 1)
                throw ctx.Error($"shape[{i}] must be a positive integer, got {Describe(d)}.");

            product = v > MaxElements ? MaxElements + 1 : product * v;
            if (product > MaxElements) throw ctx.Error($"shape has more than {MaxElements} (2^24) elements, the most accepted.");

            shape[i++] = v;
        }

        return shape;
    }

    private static LegacyAutoPo2RequestOptions ParseLegacy(Context ctx, Dictionary<string, JsonElement> options)
    {
        var result = new LegacyAutoPo2RequestOptions();
        if (options.TryGetValue("iterations", out var it))
            result = result with { Iterations = ctx.IntInRange(it, "options.iterations", 0, 100) };

        return result;
    }

    private static MsqePo2RequestOptions ParseMsqe(Context ctx, Dictionary<string, JsonElement> options, long numel, long channels)
    {
        var result = new MsqePo2RequestOptions();
        if (options.TryGetValue("init_exponent", out var init) && init.ValueKind != JsonValueKind.Null)
            result = result with { InitExponent = ctx.PerChannelInts(init, "options.init_exponent", channels) };
        if (options.TryGetValue("lls_iters", out var lls))
            result = result with { LlsIters = ctx.IntInRange(lls, "options.lls_iters", 0, 100) };
        if (options.TryGetValue("line_search", out var ls))
            result = result with { LineSearch = ctx.Bool(ls, "options.line_search") };
        if (options.TryGetValue("line_search_range", out var range))
            result = result with { LineSearchRange = ctx.IntInRange(range, "options.line_search_range", 0, 64) };

        if (options.TryGetValue("outlier_sigma", out var sigma))
        {
            double? value = null;
            if (sigma.ValueKind != JsonValueKind.Null)
            {
                value = ctx.Double(sigma, "options.outlier_sigma");
                if (value < 0)
                    throw ctx.Error($"options.outlier_sigma must be null or a number >= 0, got {Describe(sigma)}.");
            }

            result = result with { OutlierSigma = value };
        }

        if (options.TryGetValue("weights", out var weights) && weights.ValueKind != JsonValueKind.Null)
            result = result with { Weights = ctx.Weights(weights, numel) };

        return result;
    }

    private static LearnablePo2RequestOptions ParseLearnable(Context ctx, Dictionary<string, JsonElement> options, long numel, long channels)
    {
        var result = new LearnablePo2RequestOptions();
        if (options.TryGetValue("mode", out var mode))
        {
            var text = mode.ValueKind == JsonValueKind.String ? mode.GetString() : null;
            if (!Po2Quantizers.ModeNames.TryParse(text, out var parsed))
                throw ctx.Error($"options.mode must be one of {string.Join(", ", Po2Quantizers.ModeNames.All)}; got {Describe(mode)}.");
            result = result with { Mode = parsed };
        }

        if (options.TryGetValue("log2_scale", out var l) && l.ValueKind != JsonValueKind.Null)
        {
            var values = ctx.PerChannelFloats(l, "options.log2_scale", channels);
            if (values.Any(v => Math.Abs(v) > MaxAbsExponent))
                throw ctx.Error($"options.log2_scale values must be in -{MaxAbsExponent}..{MaxAbsExponent}.");

            result = result with { Log2Scale = values };
        }

        if (options.TryGetValue("min_init_scale", out var min))
        {
            var value = ctx.Double(min, "options.min_init_scale");
            if (!(value > 0))
                throw ctx.Error($"options.min_init_scale must be a positive number, got {Describe(min)}.");

            result = result with { MinInitScale = value };
        }

        if (options.TryGetValue("outlier_mask", out var mask))
            result = result with { OutlierMask = ctx.Bool(mask, "options.outlier_mask") };
        if (options.TryGetValue("weights", out var weights) && weights.ValueKind != JsonValueKind.Null)
            result = result with { Weights = ctx.Weights(weights, numel) };

        return result;
    }

    private static LsqRequestOptions ParseLsq(Context ctx, Dictionary<string, JsonElement> options, long channels)
    {
        var result = new LsqRequestOptions();
        if (options.TryGetValue("step", out var step) && step.ValueKind != JsonValueKind.Null)
        {
            var values = ctx.PerChannelFloats(step, "options.step", channels);
            if (values.Any(v => !(v > 0))) throw ctx.Error("options.step values must be positive.");

            result = result with { Step = values };
        }

        return result;
    }

    internal static string Describe(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string \"{Truncate(e.GetString()!)}\"",
        JsonValueKind.Number => $"the number {Truncate(e.GetRawText())}",
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>An error about an already parsed request, in the parser's style (<c>Request 3 ('name'): …</c>).</summary>
    internal static QuantizeRequestException Error(QuantizeRequest request, string message) => new Context(request.Index, request.Name).Error(message);

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";

    internal static string FormatShape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>Request identity for error messages.</summary>
    private readonly struct Context(int index, string? name)
    {
        public QuantizeRequestException Error(string message)
        {
            var who = name is null ? $"Request {index}" : $"Request {index} ('{name}')";
            return new QuantizeRequestException($"{who}: {message}", index, name);
        }

        public Dictionary<string, JsonElement> Properties(JsonElement obj, string[] valid, string what, string scope, string whatPlural)
        {
            var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var p in obj.EnumerateObject())
            {
                if (Array.IndexOf(valid, p.Name) < 0)
                    throw Error($"unknown {what} '{p.Name}'{scope}; valid {whatPlural}: {string.Join(", ", valid)}.");
                if (!result.TryAdd(p.Name, p.Value)) throw Error($"duplicate {what} '{p.Name}'{scope}.");
            }

            return result;
        }

        public JsonElement Require(Dictionary<string, JsonElement> fields, string field) =>
            fields.TryGetValue(field, out var value) ? value : throw Error($"missing required field '{field}'.");

        public int Int(JsonElement e, string field) =>
            e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var v)
                ? v
                : throw Error($"{field} must be an integer, got {Describe(e)}.");

        public int IntInRange(JsonElement e, string field, int min, int max)
        {
            var v = Int(e, field);
            return v >= min && v <= max ? v : throw Error($"{field} must be an integer in {min}..{max}, got {v}.");
        }

        public bool Bool(JsonElement e, string field) =>
            e.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? e.GetBoolean()
                : throw Error($"{field} must be true or false, got {Describe(e)}.");

        public double Double(JsonElement e, string field) =>
            e.ValueKind == JsonValueKind.Number && e.TryGetDouble(out var v) && double.IsFinite(v)
                ? v
                : throw Error($"{field} must be a finite number, got {Describe(e)}.");

        /// <summary>An array of numbers, each parsed as double and cast to float32 (finite).</summary>
        public float[] Floats(JsonElement array, string field, bool requireNonNegative)
        {
            var result = new float[array.GetArrayLength()];
            var i = 0;
            foreach (var e in array.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out var d) || !float.IsFinite((float)d))
                    throw Error($"{field}[{i}] must be a finite float32 number, got {Describe(e)}.");
                if (requireNonNegative && d < 0) throw Error($"{field}[{i}] must be >= 0, got {Describe(e)}.");

                result[i++] = (float)d;
            }

            return result;
        }

        public float[] Weights(JsonElement e, long numel)
        {
            if (e.ValueKind != JsonValueKind.Array)
                throw Error($"options.weights must be null or an array of numbers, got {Describe(e)}.");
            if (e.GetArrayLength() != numel)
                throw Error($"options.weights has {e.GetArrayLength()} values but the input has {numel}.");

            return Floats(e, "options.weights", requireNonNegative: true);
        }

        /// <summary>A number or an array of 1 or C numbers (float32).</summary>
        public float[] PerChannelFloats(JsonElement e, string field, long channels)
        {
            if (e.ValueKind == JsonValueKind.Number) return Floats(JsonArrayOf(e), field, requireNonNegative: false);

            if (e.ValueKind != JsonValueKind.Array || (e.GetArrayLength() != 1 && e.GetArrayLength() != channels))
                throw Error($"{field} must be a number or an array of 1 or {channels} numbers (one per channel), got {Describe(e)}{LengthNote(e)}.");

            return Floats(e, field, requireNonNegative: false);
        }

        /// <summary>An integer or an array of 1 or C integers.</summary>
        public long[] PerChannelInts(JsonElement e, string field, long channels)
        {
            var values = e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().ToArray() : [e];
            if (e.ValueKind is not (JsonValueKind.Array or JsonValueKind.Number) || (values.Length != 1 && values.Length != channels))
                throw Error($"{field} must be an integer or an array of 1 or {channels} integers (one per channel), got {Describe(e)}{LengthNote(e)}.");

            var result = new long[values.Length];
            for (var i = 0; i < values.Length; i++)
            {
                var v = Int(values[i], $"{field}[{i}]");
                if (Math.Abs(v) > MaxAbsExponent)
                    throw Error($"{field}[{i}] must be in -{MaxAbsExponent}..{MaxAbsExponent}, got {v}.");

                result[i] = v;
            }

            return result;
        }

        private static string LengthNote(JsonElement e) =>
            e.ValueKind == JsonValueKind.Array ? $" of {e.GetArrayLength()} values" : string.Empty;

        private static JsonElement JsonArrayOf(JsonElement number)
        {
            using var doc = JsonDocument.Parse("[" + number.GetRawText() + "]");
            return doc.RootElement.Clone();
        }
    }
}
