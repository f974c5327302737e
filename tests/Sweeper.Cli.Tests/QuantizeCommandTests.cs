using System.Text.Json.Nodes;

namespace Sweeper.Cli.Tests;

/// <summary><c>sweeper quantize</c> against the golden vectors of the paper's quantizers.</summary>
public sealed class QuantizeCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-quantize-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Golden()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var shared = Path.Combine(dir.FullName, "shared", "golden", "quantizers.json");
            if (File.Exists(shared)) return shared;
            var copy = Path.Combine(dir.FullName, "tests", "Sweeper.Quantization.Tests", "golden", "quantizers.json");
            if (File.Exists(copy)) return copy;
        }
        throw new FileNotFoundException("golden quantizers.json not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public async Task Quantize_GoldenCasesWithoutExpected_SameAnswersInOrder()
    {
        var cases = JsonNode.Parse(File.ReadAllText(Golden()))!["cases"]!.AsArray();
        var requests = new JsonArray(cases.Select(c =>
        {
            var o = c!.AsObject().DeepClone().AsObject();
            o.Remove("expected");
            return (JsonNode)o;
        }).ToArray());
        var input = Path.Combine(_dir, "requests.json");
        File.WriteAllText(input, requests.ToJsonString());
        var output = Path.Combine(_dir, "results.json");

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(2), "quantize", "--input", input, "--output", output);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var results = JsonNode.Parse(File.ReadAllText(output))!.AsArray();
        Assert.Equal(cases.Count, results.Count);
        for (int i = 0; i < cases.Count; i++)
        {
            var expected = cases[i]!["expected"]!;
            var got = results[i]!;
            var name = (string)cases[i]!["name"]!;
            Assert.True(JsonNode.DeepEquals(expected["exponents"], got["exponents"]), name + ": exponents");
            Assert.True(JsonNode.DeepEquals(expected["codes"], got["codes"]), name + ": codes");
            Assert.Equal(expected["dequantized"]!.AsArray().Select(v => (double)v!), got["dequantized"]!.AsArray().Select(v => (double)v!));
            var input2 = cases[i]!["input"]!.AsArray().Select(v => (double)v!).ToArray();
            double sumSq = input2.Sum(x => x * x);
            foreach (var key in new[] { "msqe", "weighted_msqe" })
            {
                if (expected[key] is not JsonArray e) continue;
                var g = got[key]!.AsArray();
                for (int c = 0; c < e.Count; c++)
                    Assert.True(Math.Abs((double)e[c]! - (double)g[c]!) <= 1e-5 * Math.Abs((double)e[c]!) + 1e-9 * sumSq, $"{name}: {key}[{c}]");
            }
        }
    }

    [Fact]
    public async Task Quantize_WithUpstream_WritesGradientsOfTheTrainingQuantizers()
    {
        // msqe_po2, 3 bits (qp = 3), per tensor: the outlier mask keeps 1.0 out of the fit, its code clips, so it gets no gradient.
        // learnable_po2, ceil(-2.5) = -2 (step 0.25): 1.0 -> 4 clips; dL/dl = ln2 · Σ u · (y − x·[not clipped]).
        float[] x = [0.3f, -0.3f, 0.3f, 0.3f, -0.3f, 0.3f, 1.0f, -0.3f];
        float[] u = [1f, -2f, 0.5f, 3f, -1.5f, 0.25f, 2f, -0.75f];
        string Join(float[] v) => string.Join(",", v.Select(f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));
        var input = Path.Combine(_dir, "upstream.json");
        File.WriteAllText(input, $$"""
            [{"method":"msqe_po2","bits":3,"channel_axis":null,"shape":[8],"input":[{{Join(x)}}],"options":{"outlier_sigma":1.5},"upstream":[{{Join(u)}}]},
             {"method":"learnable_po2","bits":3,"channel_axis":null,"shape":[8],"input":[{{Join(x)}}],"options":{"mode":"ceil","log2_scale":-2.5},"upstream":[{{Join(u)}}]}]
            """);
        var output = Path.Combine(_dir, "gradients.json");

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "quantize", "--input", input, "--output", output);

        Assert.True(outcome.ExitCode == 0, outcome.ToString());
        var results = JsonNode.Parse(File.ReadAllText(output))!.AsArray();
        foreach (var result in results)
        {
            var s = Math.Pow(2, (long)result!["exponents"]![0]!);
            var notClipped = x.Select(v => Math.Abs(Math.Round(v / s, MidpointRounding.ToEven)) <= 3).ToArray();
            Assert.Contains(false, notClipped);
            Assert.Equal(x.Select((_, i) => notClipped[i] ? (double)u[i] : 0.0), result["grad_input"]!.AsArray().Select(v => (double)v!));
        }

        var y = x.Select(v => Math.Clamp(Math.Round(v / 0.25, MidpointRounding.ToEven), -3, 3) * 0.25).ToArray();
        var expected = Math.Log(2) * x.Select((v, i) => u[i] * (y[i] - (notClippedAt(v) ? v : 0))).Sum();
        Assert.Equal(expected, (double)results[1]!["grad_log2_scale"]![0]!, 5);
        Assert.Null(results[0]!["grad_log2_scale"]);

        static bool notClippedAt(float v) => Math.Abs(Math.Round(v / 0.25, MidpointRounding.ToEven)) <= 3;
    }

    [Theory]
    [InlineData("""{"name":"u","method":"msqe_po2","bits":4,"channel_axis":null,"shape":[2,2],"input":[1,2,3,4],"upstream":[1,2,3]}""", "Request 0 ('u')", "upstream has 3 values")]
    [InlineData("""[{"method":"msqe_po2","bits":4,"channel_axis":null,"shape":[3],"input":[1,2,3]},{"name":"odd","method":"msqe_po3","bits":4,"channel_axis":null,"shape":[1],"input":[1]}]""", "Request 1 ('odd')", "msqe_po3")]
    [InlineData("""{"method":"msqe_po2","bits":4,"channel_axis":null,"shape":[2,2],"input":[1,2,3]}""", "Request 0", "shape")]
    [InlineData("""{"method":"learnable_po2","bits":4,"channel_axis":null,"shape":[1],"input":[1],"options":{"sigma":2}}""", "Request 0", "sigma")]
    [InlineData("""{"method": "lsq", "bits": 4,""", "line", "")]
    public async Task Quantize_BadRequest_Exit2NamesTheRequestWritesNothing(string json, string names, string mentions)
    {
        var input = Path.Combine(_dir, "bad.json");
        File.WriteAllText(input, json);
        var output = Path.Combine(_dir, "out.json");

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "quantize", "--input", input, "--output", output);

        Assert.Equal(2, outcome.ExitCode);
        Assert.Contains(names, outcome.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(mentions, outcome.Stderr);
        Assert.DoesNotContain("   at ", outcome.Stderr);
        Assert.False(File.Exists(output));
    }
}
