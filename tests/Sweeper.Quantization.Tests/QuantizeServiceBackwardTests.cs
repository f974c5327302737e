using System.Globalization;
using System.Text.Json.Nodes;
using Sweeper.Quantization.Service;

namespace Sweeper.Quantization.Tests;

/// <summary>
/// <c>upstream</c> in <see cref="QuantizeService"/> requests: the gradients of the training quantizers' backward pass
/// against the analytic straight-through forms computed here in plain C# doubles (not from the implementation):
/// legacy_auto_po2 dL/dx = u; msqe_po2 and learnable_po2 dL/dx = u·[|R(x/2^e)| ≤ qp];
/// learnable_po2 dL/dl = Σ_channel u·ln2·(y − x·[not clipped]); lsq dL/dx = u·[−qp ≤ x/s ≤ qp],
/// dL/ds = Σ_channel u·(q − (x/s)·[inside])·g with g = 1/sqrt(N·qp).
/// </summary>
public sealed class QuantizeServiceBackwardTests
{
    private static readonly double Ln2 = Math.Log(2.0);

    private static int ChannelOf(long[] shape, int? axis, int i) => GradientTests.ChannelOf(shape, axis, i);

    private sealed record Expected(double[] GradInput, double[]? GradParameter, double[] ParameterScale, int Clipped);

    /// <summary>
    /// The analytic gradients for a PO2 method with exponents <paramref name="exponents"/>, or for lsq with steps
    /// <paramref name="steps"/>. ParameterScale is the sum of the terms' magnitudes before cancellation, per channel (the size of float32 rounding).
    /// </summary>
    private static Expected Analytic(string method, int bits, long[] shape, int? axis, double[] x, double[] u, long[]? exponents, double[]? steps)
    {
        var qp = (1 << (bits - 1)) - 1;
        var channels = axis is int a ? (int)shape[a] : 1;
        var gradInput = new double[x.Length];
        var gradParameter = new double[channels];
        var scale = new double[channels];
        var clipped = 0;
        var n = x.Length / channels;
        for (var i = 0; i < x.Length; i++)
        {
            var c = ChannelOf(shape, axis, i);
            if (method == "lsq")
            {
                var s = steps![c];
                var r = x[i] / s;
                var inside = r >= -qp && r <= qp;
                var q = Math.Clamp(Math.Round(r, MidpointRounding.ToEven), -qp, qp);
                gradInput[i] = inside ? u[i] : 0;
                var term = u[i] * (q - (inside ? r : 0)) / Math.Sqrt((double)n * qp);
                gradParameter[c] += term;
                scale[c] += Math.Abs(u[i]) * (Math.Abs(q) + (inside ? Math.Abs(r) : 0)) / Math.Sqrt((double)n * qp);
                clipped += inside ? 0 : 1;
            }
            else
            {
                var s = Math.Pow(2, exponents![c]);
                var rounded = Math.Round(x[i] / s, MidpointRounding.ToEven);
                var notClipped = Math.Abs(rounded) <= qp;
                clipped += notClipped ? 0 : 1;
                gradInput[i] = method == "legacy_auto_po2" || notClipped ? u[i] : 0;
                var y = Math.Clamp(rounded, -qp, qp) * s;
                var term = u[i] * Ln2 * (y - (notClipped ? x[i] : 0));
                gradParameter[c] += term;
                scale[c] += Math.Abs(u[i]) * Ln2 * (Math.Abs(y) + (notClipped ? Math.Abs(x[i]) : 0));
            }
        }

        var hasParameter = method is "learnable_po2" or "lsq";
        return new Expected(gradInput, hasParameter ? gradParameter : null, scale, clipped);
    }

    private static double[] RandomUpstream(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (double)(float)(random.NextDouble() * 4 - 2)).ToArray();
    }

    private static void AssertGradients(string name, string method, Expected expected, JsonObject actual)
    {
        var gradInput = GoldenFile.Doubles(actual["grad_input"]);
        Assert.Equal(expected.GradInput.Length, gradInput.Length);
        for (var i = 0; i < gradInput.Length; i++)
            Assert.True(gradInput[i] == expected.GradInput[i], $"{name}: grad_input[{i}] = {gradInput[i]:R}, expected {expected.GradInput[i]:R}");

        var parameterField = method switch
        {
            "learnable_po2" => "grad_log2_scale",
            "lsq" => "grad_step",
            _ => null,
        };
        foreach (var other in new[] { "grad_log2_scale", "grad_step" }.Where(f => f != parameterField))
            Assert.False(actual.ContainsKey(other), $"{name}: unexpected {other}");

        if (parameterField is null) return;

        var gradParameter = GoldenFile.Doubles(actual[parameterField]);
        Assert.Equal(expected.GradParameter!.Length, gradParameter.Length);
        for (var c = 0; c < gradParameter.Length; c++)
        {
            // float32 sums of float32 products: relative error about 1e-7 · N of the sum of |terms|.
            var tolerance = 1e-5 * expected.ParameterScale[c] + 1e-30;
            Assert.True(
                Math.Abs(gradParameter[c] - expected.GradParameter[c]) <= tolerance,
                $"{name}: {parameterField}[{c}] = {gradParameter[c]:R}, expected {expected.GradParameter[c]:R} (± {tolerance:R})");
        }
    }

    private static JsonObject RunOne(string json) => JsonNode.Parse(QuantizeService.Run(json))!.AsObject();

    private static string Request(string method, int bits, int? axis, long[] shape, double[] x, double[]? u, string options = "{}") =>
        $$"""
        {"method":"{{method}}","bits":{{bits}},"channel_axis":{{(axis is int a ? a.ToString(CultureInfo.InvariantCulture) : "null")}},"shape":[{{string.Join(",", shape)}}],"input":[{{Join(x)}}],"options":{{options}}{{(u is null ? "" : $",\"upstream\":[{Join(u)}]")}}}
        """;

    private static string Join(double[] values) => string.Join(",", values.Select(v => ((float)v).ToString("R", CultureInfo.InvariantCulture)));

    [Fact]
    public void Run_AllGoldenCasesWithRandomUpstream_ForwardMatchesGoldenAndGradientsMatchAnalyticForms()
    {
        var cases = GoldenFile.Cases;
        var requests = new JsonArray();
        var upstreams = new List<double[]>();
        for (var k = 0; k < cases.Count; k++)
        {
            var copy = JsonNode.Parse(cases[k].ToJsonString())!.AsObject();
            copy.Remove("expected");
            var u = RandomUpstream(copy["input"]!.AsArray().Count, 1000 + k);
            upstreams.Add(u);
            copy["upstream"] = new JsonArray(u.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
            requests.Add(copy);
        }

        var response = JsonNode.Parse(QuantizeService.Run(requests.ToJsonString()))!.AsArray();

        Assert.Equal(cases.Count, response.Count);
        var clippedCases = new Dictionary<string, int>();
        var perChannel = new HashSet<string>();
        for (var k = 0; k < cases.Count; k++)
        {
            var c = cases[k];
            var actual = response[k]!.AsObject();
            var name = (string)c["name"]!;
            GoldenAssert.Matches(c, actual);
            var method = (string)c["method"]!;
            var axis = c["channel_axis"] is JsonValue v ? v.GetValue<int>() : (int?)null;
            var expected = Analytic(
                method,
                c["bits"]!.GetValue<int>(),
                GoldenFile.Longs(c["shape"]),
                axis,
                GoldenFile.Floats(c["input"]).Select(f => (double)f).ToArray(),
                upstreams[k],
                GoldenFile.Longs(c["expected"]!["exponents"]),
                null);
            AssertGradients(name, method, expected, actual);
            clippedCases[method] = clippedCases.GetValueOrDefault(method) + (expected.Clipped > 0 ? 1 : 0);
            if (axis is not null) perChannel.Add(method);
        }

        // The comparison above can tell the clip-aware estimators from the identity: every PO2 method has cases with clipped codes.
        Assert.All(new[] { "legacy_auto_po2", "msqe_po2", "learnable_po2" }, m => Assert.True(clippedCases.GetValueOrDefault(m) > 0, $"{m}: no golden case with clipped codes"));
        Assert.Equal(3, perChannel.Count);
    }

    [Fact]
    public void Run_WithoutUpstream_HasNoGradientFields()
    {
        var response = RunOne(Request("learnable_po2", 4, null, [4], [0.1, -0.2, 0.3, -0.4], null));

        Assert.False(response.ContainsKey("grad_input"));
        Assert.False(response.ContainsKey("grad_log2_scale"));
    }

    public static TheoryData<string, int?> Po2Layouts => new()
    {
        { "legacy_auto_po2", null }, { "legacy_auto_po2", 0 }, { "legacy_auto_po2", 1 },
        { "msqe_po2", null }, { "msqe_po2", 0 }, { "msqe_po2", 1 },
        { "learnable_po2", null }, { "learnable_po2", 0 }, { "learnable_po2", 1 },
    };

    [Theory]
    [MemberData(nameof(Po2Layouts))]
    public void Run_Po2WithClippedCodes_GradientsMatchAnalyticForms(string method, int? axis)
    {
        // 3 bits (qp = 3). Per channel (or per tensor) mostly ±0.3 with one 1.0 and one -0.95: exponent -2 (step 0.25) for
        // legacy and learnable (ceil), so 1.0 -> 4 and -0.95 -> -4 clip to ±3; msqe's outlier mask keeps the large values
        // out of its fit, so they clip too.
        long[] shape = axis == 1 ? [8, 2] : [2, 8];
        double[] row0 = [0.3, -0.3, 0.3, 0.3, -0.3, 0.3, 1.0, -0.3];
        double[] row1 = [-0.28, 0.31, 0.29, -0.95, 0.3, -0.27, 0.33, 0.26];
        var x = new double[16];
        for (var j = 0; j < 8; j++)
        {
            x[axis == 1 ? 2 * j : j] = row0[j];
            x[axis == 1 ? 2 * j + 1 : 8 + j] = row1[j];
        }

        var u = RandomUpstream(16, 7);
        var options = method switch
        {
            "learnable_po2" => """{"mode":"ceil","log2_scale":[-2.5]}""", // ceil(-2.5) = -2
            "msqe_po2" => """{"outlier_sigma":1.5}""",
            _ => "{}",
        };

        var actual = RunOne(Request(method, 3, axis, shape, x, u, options));

        var exponents = GoldenFile.Longs(actual["exponents"]);
        if (method != "msqe_po2")
            Assert.All(exponents, e => Assert.Equal(-2L, e)); // msqe's line search may prefer -3; the formula takes any exponent

        var expected = Analytic(method, 3, shape, axis, x.Select(v => (double)(float)v).ToArray(), u, exponents, null);
        Assert.True(expected.Clipped >= 1, "no clipped code: the test could not tell the estimators apart");
        AssertGradients(method, method, expected, actual);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData(0, false)]
    [InlineData(1, false)]
    [InlineData(0, true)]
    public void Run_LsqWithClippedCodes_GradientsMatchAnalyticForms(int? axis, bool stepFromData)
    {
        // 3 bits (qp = 3); steps 0.3 / 0.7; values beyond ±3 steps are outside the LSQ range.
        double[] row0 = [0.31, -0.47, 1.37, -2.2, 0.05, 0.4];
        double[] row1 = [0.05, 1.0, -3.1, 2.6, -0.2, 0.66];
        long[] shape = axis == 1 ? [6, 2] : [2, 6];
        var x = new double[12];
        for (var j = 0; j < 6; j++)
        {
            x[axis == 1 ? 2 * j : j] = row0[j];
            x[axis == 1 ? 2 * j + 1 : 6 + j] = row1[j];
        }

        var u = RandomUpstream(12, 11);
        var options = stepFromData ? "{}" : axis is null ? """{"step":0.3}""" : """{"step":[0.3,0.7]}""";
        var bits = stepFromData ? 2 : 3; // from the data s = 2·mean|x|/sqrt(qp): with qp = 1, 2.2 and -3.1 are outside ±s

        var actual = RunOne(Request("lsq", bits, axis, shape, x, u, options));

        var steps = GoldenFile.Doubles(actual["step"]);
        if (!stepFromData) Assert.Equal(axis is null ? [(double)0.3f] : [(double)0.3f, (double)0.7f], steps);

        var expected = Analytic("lsq", bits, shape, axis, x.Select(v => (double)(float)v).ToArray(), u, null, steps);
        Assert.True(expected.Clipped >= 1, "no clipped code: the test could not tell the estimators apart");
        AssertGradients("lsq", "lsq", expected, actual);
    }

    [Theory]
    [InlineData("learnable_po2", """{"mode":"ceil","log2_scale":[-2.5,-1.2,0.3,-3.9]}""")]
    [InlineData("lsq", """{"step":[0.3,0.2,0.5,0.05]}""")]
    [InlineData("msqe_po2", "{}")]
    public void Run_RankOneOneExponentPerElement_GradientsMatchAnalyticForms(string method, string options)
    {
        // One channel per element (shape [4], channel_axis 0): no axis is left to reduce over.
        double[] x = [0.85, -0.3, 4.1, 0.7];
        var u = RandomUpstream(4, 5);

        var actual = RunOne(Request(method, 3, 0, [4], x, u, options));

        var xf = x.Select(v => (double)(float)v).ToArray();
        var expected = method == "lsq"
            ? Analytic(method, 3, [4], 0, xf, u, null, GoldenFile.Doubles(actual["step"]))
            : Analytic(method, 3, [4], 0, xf, u, GoldenFile.Longs(actual["exponents"]), null);
        if (method != "msqe_po2") Assert.True(expected.Clipped >= 1, "no clipped code");

        AssertGradients(method, method, expected, actual);
    }

    [Fact]
    public void Run_MsqeWeightsAndInitExponentWithUpstream_ReachTheTrainingQuantizer()
    {
        // The golden case where weights decide the least-squares fit and init_exponent is the start, with upstream.
        var c = GoldenFile.Case("msqe/weights_enter_least_squares_no_line_search");
        var copy = JsonNode.Parse(c.ToJsonString())!.AsObject();
        copy.Remove("expected");
        var u = RandomUpstream(copy["input"]!.AsArray().Count, 3);
        copy["upstream"] = new JsonArray(u.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());

        var actual = RunOne(copy.ToJsonString());

        GoldenAssert.Matches(c, actual);
        var expected = Analytic("msqe_po2", 4, GoldenFile.Longs(c["shape"]), 1, GoldenFile.Floats(c["input"]).Select(f => (double)f).ToArray(), u, GoldenFile.Longs(c["expected"]!["exponents"]), null);
        AssertGradients("weights", "msqe_po2", expected, actual);
    }

    [Theory]
    [InlineData("\"upstream\":[1,2,3]", "Request 1 ('bad'): shape [2, 2] has 4 elements but upstream has 3 values.")]
    [InlineData("\"upstream\":[1,2,3,4,5]", "Request 1 ('bad'): shape [2, 2] has 4 elements but upstream has 5 values.")]
    [InlineData("\"upstream\":[1,2,1e39,4]", "Request 1 ('bad'): upstream[2] must be a finite float32 number, got the number 1e39.")]
    [InlineData("\"upstream\":[1,\"NaN\",3,4]", "Request 1 ('bad'): upstream[1] must be a finite float32 number, got the string \"NaN\".")]
    [InlineData("\"upstream\":[1,null,3,4]", "Request 1 ('bad'): upstream[1] must be a finite float32 number, got null.")]
    [InlineData("\"upstream\":2", "Request 1 ('bad'): field 'upstream' must be null or an array of numbers")]
    [InlineData("\"upstream\":[1,2,3,4],\"options\":{\"weights\":[1,1e-30,1,1]}", "Request 1 ('bad'): options.weights[1] = 1E-30 cannot be used with 'upstream'")]
    public void Run_InvalidUpstream_NamesRequestAndField(string addition, string expected)
    {
        const string good = """{"method":"msqe_po2","bits":4,"channel_axis":null,"shape":[2,2],"input":[0.1,-0.2,0.3,-0.4],"upstream":[1,1,1,1]}""";
        var bad = """{"name":"bad","method":"msqe_po2","bits":4,"channel_axis":null,"shape":[2,2],"input":[0.1,-0.2,0.3,-0.4],""" + addition + "}";

        var ex = Assert.Throws<QuantizeRequestException>(() => QuantizeService.Run("[" + good + "," + bad + "]"));

        Assert.StartsWith(expected, ex.Message);
        Assert.Equal(1, ex.RequestIndex);
    }

    [Fact]
    public void Run_LegacyHalfStepBoundary_TrainingForwardMatchesTheReference()
    {
        // legacy_auto_po2, 2 bits, exponent 0: the reference rounds 0.5 − 2^-25 half away from zero in float64 to code 0. In
        // float32, 0.5 − 2^-25 + 0.5 rounds to 1; the training module computes the codes in float64 too, so it agrees and
        // the gradient is answered (the identity, as for every legacy weight).
        const string request = """{"name":"edge","method":"legacy_auto_po2","bits":2,"channel_axis":null,"shape":[2],"input":[1.0,0.49999997]""";

        var forward = RunOne(request + "}");
        var backward = RunOne(request + ""","upstream":[0.5,-2]}""");

        Assert.Equal([1L, 0L], GoldenFile.Longs(forward["codes"]));
        Assert.Equal([1L, 0L], GoldenFile.Longs(backward["codes"]));
        Assert.Equal([0.5, -2.0], GoldenFile.Doubles(backward["grad_input"]));
    }

    [Fact]
    public void Run_TinyWeightsWithoutUpstream_AreStillAccepted()
    {
        var response = RunOne("""{"method":"msqe_po2","bits":4,"channel_axis":null,"shape":[2,2],"input":[0.1,-0.2,0.3,-0.4],"options":{"weights":[1,1e-30,1,1]},"upstream":null}""");

        Assert.False(response.ContainsKey("grad_input"));
    }
}
