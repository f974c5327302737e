using System.Globalization;
using System.Text.Json.Nodes;
using Sweeper.Quantization.Po2;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Tests;

/// <summary>Compares a response-shaped JSON object with a golden case's <c>expected</c>, using the README's tolerances.</summary>
internal static class GoldenAssert
{
    public static void Matches(JsonObject goldenCase, JsonObject actual)
    {
        var name = (string)goldenCase["name"]!;
        var expected = goldenCase["expected"]!.AsObject();
        var energy = ChannelEnergy(goldenCase);

        Exact(name, "exponents", GoldenFile.Longs(expected["exponents"]), GoldenFile.Longs(actual["exponents"]));
        Exact(name, "codes", GoldenFile.Longs(expected["codes"]), GoldenFile.Longs(actual["codes"]));
        Exact(name, "dequantized", GoldenFile.Doubles(expected["dequantized"]), GoldenFile.Doubles(actual["dequantized"]));
        Msqe(name, "msqe", GoldenFile.Doubles(expected["msqe"]), GoldenFile.Doubles(actual["msqe"]), energy);
        Assert.True(expected.ContainsKey("weighted_msqe") == actual.ContainsKey("weighted_msqe"), $"{name}: weighted_msqe present in expected: {expected.ContainsKey("weighted_msqe")}, in actual: {actual.ContainsKey("weighted_msqe")}");
        if (expected.ContainsKey("weighted_msqe"))
            Msqe(name, "weighted_msqe", GoldenFile.Doubles(expected["weighted_msqe"]), GoldenFile.Doubles(actual["weighted_msqe"]), energy);

        var expectedIntermediate = expected["intermediate"]!.AsObject();
        var actualIntermediate = actual["intermediate"]!.AsObject();
        foreach (var (key, value) in expectedIntermediate)
        {
            Assert.True(actualIntermediate.ContainsKey(key), $"{name}: intermediate.{key} missing");
            var got = actualIntermediate[key];
            var field = "intermediate." + key;
            if (value is null || got is null)
            {
                Assert.True(value is null && got is null, $"{name}: {field} expected {(value is null ? "null" : "a value")}, got {(got is null ? "null" : got.ToJsonString())}");
                continue;
            }

            switch (key)
            {
                case "iterate_exponents":
                    var e = value.AsArray();
                    var g = got.AsArray();
                    Assert.True(e.Count == g.Count, $"{name}: {field} has {g.Count} rows, expected {e.Count}");
                    for (var i = 0; i < e.Count; i++)
                        Exact(name, $"{field}[{i}]", GoldenFile.Longs(e[i]), GoldenFile.Longs(g[i]));

                    break;
                case "log2_scale":
                    Close(name, field, GoldenFile.Doubles(value), GoldenFile.Doubles(got), rtol: 1e-6, atol: 1e-6);
                    break;
                case "floor_msqe" or "ceil_msqe":
                    Msqe(name, field, GoldenFile.Doubles(value), GoldenFile.Doubles(got), energy);
                    break;
                case "qkeras_scale_attribute":
                    Exact(name, field, GoldenFile.Doubles(value), GoldenFile.Doubles(got));
                    break;
                default: // integer intermediates: exponents and 0/1 masks
                    Exact(name, field, GoldenFile.Longs(value), GoldenFile.Longs(got));
                    break;
            }
        }
    }

    /// <summary>Σ over each channel of x² (plain doubles), in channel order.</summary>
    public static double[] ChannelEnergy(JsonObject goldenCase)
    {
        var shape = GoldenFile.Longs(goldenCase["shape"]);
        var input = GoldenFile.Floats(goldenCase["input"]);
        var axisNode = goldenCase["channel_axis"];
        if (axisNode is null) return [input.Sum(v => (double)v * v)];

        var axis = axisNode.GetValue<int>();
        long stride = 1;
        for (var i = axis + 1; i < shape.Length; i++)
            stride *= shape[i];

        var energy = new double[shape[axis]];
        for (long i = 0; i < input.Length; i++)
            energy[i / stride % shape[axis]] += (double)input[i] * input[i];

        return energy;
    }

    private static void Exact<T>(string name, string field, T[] expected, T[] actual)
        where T : IEquatable<T>
    {
        Assert.True(expected.Length == actual.Length, $"{name}: {field} has {actual.Length} values, expected {expected.Length}");
        for (var i = 0; i < expected.Length; i++)
            Assert.True(expected[i].Equals(actual[i]), $"{name}: {field}[{i}] = {actual[i]}, expected {expected[i]}");
    }

    private static void Msqe(string name, string field, double[] expected, double[] actual, double[] energy)
    {
        Assert.True(expected.Length == actual.Length, $"{name}: {field} has {actual.Length} values, expected {expected.Length}");
        Assert.True(expected.Length == energy.Length, $"{name}: {field} has {expected.Length} channels but the input has {energy.Length}");
        for (var i = 0; i < expected.Length; i++)
        {
            var tol = 1e-5 * Math.Abs(expected[i]) + 1e-9 * energy[i];
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tol, string.Create(CultureInfo.InvariantCulture, $"{name}: {field}[{i}] = {actual[i]:R}, expected {expected[i]:R} (tolerance {tol:R})"));
        }
    }

    private static void Close(string name, string field, double[] expected, double[] actual, double rtol, double atol)
    {
        Assert.True(expected.Length == actual.Length, $"{name}: {field} has {actual.Length} values, expected {expected.Length}");
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= atol + rtol * Math.Abs(expected[i]), string.Create(CultureInfo.InvariantCulture, $"{name}: {field}[{i}] = {actual[i]:R}, expected {expected[i]:R}"));
    }

    // ---- result tensors -> response-shaped JSON (test side, independent of QuantizeService) ----

    public static JsonObject ToJson(QuantizationResult result)
    {
        var o = new JsonObject();
        if (result is Po2QuantizationResult po2) o["exponents"] = Array(Longs(po2.Exponents));

        o["codes"] = Array(Doubles(result.Codes).Select(c => checked((long)c)));
        o["dequantized"] = Array(Doubles(result.Dequantized));
        o["msqe"] = Array(Doubles(result.Msqe));
        if (result.WeightedMsqe is not null) o["weighted_msqe"] = Array(Doubles(result.WeightedMsqe));

        var im = new JsonObject();
        switch (result)
        {
            case LegacyAutoPo2Result r:
                im["init_exponents"] = Array(Longs(r.InitExponents));
                var rows = new JsonArray();
                for (var i = 0; i < r.IterateExponents.shape[0]; i++)
                    rows.Add(Array(Longs(r.IterateExponents[i])));

                im["iterate_exponents"] = rows;
                im["qkeras_scale_attribute"] = Array(Doubles(r.QkerasScaleAttribute));
                break;
            case MsqePo2Result r:
                im["init_exponents"] = Array(Longs(r.InitExponents));
                im["lls_exponents"] = Array(Longs(r.LlsExponents));
                im["line_search_exponents"] = Array(Longs(r.LineSearchExponents));
                im["outlier_mask"] = r.OutlierMask is null ? null : Array(Longs(r.OutlierMask));
                break;
            case LearnablePo2Result r:
                im["log2_scale"] = Array(Doubles(r.Log2Scale));
                im["floor_msqe"] = r.FloorMsqe is null ? null : Array(Doubles(r.FloorMsqe));
                im["ceil_msqe"] = r.CeilMsqe is null ? null : Array(Doubles(r.CeilMsqe));
                im["outlier_mask"] = r.OutlierMask is null ? null : Array(Longs(r.OutlierMask));
                break;
        }

        o["intermediate"] = im;
        return o;
    }

    private static JsonArray Array<T>(IEnumerable<T> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());

    public static double[] Doubles(Tensor t) => t.to_type(ScalarType.Float64, copy: true).contiguous().data<double>().ToArray();

    public static long[] Longs(Tensor t) => t.to_type(ScalarType.Int64, copy: true).contiguous().data<long>().ToArray();
}
