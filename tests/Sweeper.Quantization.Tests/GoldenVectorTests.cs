using System.Text.Json.Nodes;
using Sweeper.Quantization.Po2;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Tests;

public sealed class GoldenVectorTests
{
    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in GoldenFile.Cases)
            data.Add((string)c["name"]!);

        return data;
    }

    [Fact]
    public void GoldenFile_Located_HasEveryMethodAndFormat()
    {
        Assert.Equal("po2-quantizer-golden/1", (string)GoldenFile.Root["format"]!);
        var methods = GoldenFile.Cases.Select(c => (string)c["method"]!).Distinct().Order().ToArray();
        Assert.Equal(["learnable_po2", "legacy_auto_po2", "msqe_po2"], methods);
        Assert.True(GoldenFile.Cases.Count >= 54, $"only {GoldenFile.Cases.Count} cases in {GoldenFile.Path}");
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Quantizer_GoldenCase_MatchesExpected(string name)
    {
        var c = GoldenFile.Case(name);
        using var scope = torch.NewDisposeScope();
        using var result = Run(c);
        GoldenAssert.Matches(c, GoldenAssert.ToJson(result));
    }

    /// <summary>Runs a golden case through the pure quantizer functions (options parsed here, not by the service).</summary>
    internal static QuantizationResult Run(JsonObject c)
    {
        var shape = GoldenFile.Longs(c["shape"]);
        var x = torch.tensor(GoldenFile.Floats(c["input"])).reshape(shape);
        var bits = c["bits"]!.GetValue<int>();
        int? axis = c["channel_axis"]?.GetValue<int>();
        var o = c["options"]!.AsObject();
        Tensor? Floats(string key) => o[key] is null ? null : torch.tensor(GoldenFile.Floats(o[key]));
        Tensor? Weights() => Floats("weights")?.reshape(shape);
        switch ((string)c["method"]!)
        {
            case "legacy_auto_po2":
                return Po2Quantizers.LegacyAutoPo2(x, bits, axis, new LegacyAutoPo2Options { Iterations = o["iterations"]!.GetValue<int>() });
            case "msqe_po2":
                return Po2Quantizers.MsqePo2(x, bits, axis, new MsqePo2Options
                {
                    InitExponent = o["init_exponent"] is null ? null : torch.tensor(GoldenFile.Longs(o["init_exponent"])),
                    LlsIters = o["lls_iters"]!.GetValue<int>(),
                    LineSearch = o["line_search"]!.GetValue<bool>(),
                    LineSearchRange = o["line_search_range"]!.GetValue<int>(),
                    OutlierSigma = o["outlier_sigma"]?.GetValue<double>(),
                    Weights = Weights(),
                });
            case "learnable_po2":
                return Po2Quantizers.LearnablePo2(x, bits, axis, new LearnablePo2Options
                {
                    Mode = (string)o["mode"]! switch
                    {
                        "ceil" => Po2ExponentMode.Ceil,
                        "rint" => Po2ExponentMode.Rint,
                        "msqe_round" => Po2ExponentMode.MsqeRound,
                        var m => throw new InvalidOperationException(m),
                    },
                    Log2Scale = Floats("log2_scale"),
                    MinInitScale = o["min_init_scale"]!.GetValue<double>(),
                    OutlierMask = o["outlier_mask"]!.GetValue<bool>(),
                    Weights = Weights(),
                });
            default:
                throw new InvalidOperationException($"unknown method in {c["name"]}");
        }
    }
}
