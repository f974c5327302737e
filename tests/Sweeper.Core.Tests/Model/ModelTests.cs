using Sweeper.Core.Model;

namespace Sweeper.Core.Tests.Model;

public sealed class MetricNamesTests
{
    [Theory]
    [InlineData("quant.features.3.pw.flips_epoch", ".flips_epoch", "features.3.pw")]
    [InlineData("quant.flips_epoch", ".flips_epoch", null)] // the sweep-wide total, not a layer
    [InlineData("quant.x.exponent_mean", ".exponent_mean", "x")]
    [InlineData("test_accuracy", ".exponent_mean", null)]
    [InlineData("quant..flips_epoch", ".flips_epoch", null)]
    public void LayerOf_MetricKey_LayerOrNull(string key, string suffix, string? layer) =>
        Assert.Equal(layer, MetricNames.QuantLayer.LayerOf(key, suffix));

    [Theory]
    [InlineData("features.3.pw", MetricNames.QuantLayer.Flips)]
    [InlineData("fc", MetricNames.QuantLayer.ExponentMean)]
    public void Name_ThenLayerOf_RoundTrips(string layer, string suffix) =>
        Assert.Equal(layer, MetricNames.QuantLayer.LayerOf(MetricNames.QuantLayer.Name(layer, suffix), suffix));
}

public sealed class ObjectiveSpecTests
{
    [Theory]
    [InlineData(ObjectiveMode.Max, 0.9, 0.8, true)]
    [InlineData(ObjectiveMode.Max, 0.8, 0.9, false)]
    [InlineData(ObjectiveMode.Max, 0.8, 0.8, false)]
    [InlineData(ObjectiveMode.Min, 0.1, 0.2, true)]
    [InlineData(ObjectiveMode.Min, 0.2, 0.1, false)]
    [InlineData(ObjectiveMode.Max, double.NaN, 0.1, false)]
    [InlineData(ObjectiveMode.Min, 0.5, double.NaN, true)]
    public void IsBetter_Table(ObjectiveMode mode, double candidate, double incumbent, bool better) =>
        Assert.Equal(better, new ObjectiveSpec("m", mode).IsBetter(candidate, incumbent));

    [Theory]
    [InlineData(ObjectiveMode.Max, 0.9, 0.9, true)]
    [InlineData(ObjectiveMode.Max, 0.89, 0.9, false)]
    [InlineData(ObjectiveMode.Min, 0.1, 0.1, true)]
    [InlineData(ObjectiveMode.Min, 0.11, 0.1, false)]
    [InlineData(ObjectiveMode.Max, double.NaN, 0.1, false)]
    public void Reached_Table(ObjectiveMode mode, double value, double target, bool reached) =>
        Assert.Equal(reached, new ObjectiveSpec("m", mode).Reached(value, target));

    [Fact]
    public void Score_Min_Negates() => Assert.Equal(-0.25, new ObjectiveSpec("m", ObjectiveMode.Min).Score(0.25));
}

public sealed class VocabularyTests
{
    [Fact]
    public void StabilityKinds_WordsParseBack()
    {
        foreach (var kind in Enum.GetValues<StabilityKind>())
            Assert.Equal(kind, StabilityKinds.Parse(kind.Word()));
        Assert.False(StabilityKinds.TryParse("wobbly", out _));
    }

    [Fact]
    public void QuantizerNames_WordsParseBack()
    {
        Assert.Equal(Enum.GetValues<QuantizerMethod>().Length, QuantizerNames.Methods.Count);
        foreach (var m in Enum.GetValues<QuantizerMethod>()) Assert.Equal(m, QuantizerNames.ParseMethod(m.Word()));
        foreach (var r in Enum.GetValues<Rounding>()) Assert.Equal(r, QuantizerNames.ParseRounding(r.Word()));
        Assert.Throws<ArgumentException>(() => QuantizerNames.ParseMethod("msqe"));
    }

    [Fact]
    public void SplitMix64_KnownSequence()
    {
        // Reference outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        ulong state = 0;
        Assert.Equal(0xE220A8397B1DCDAFUL, SplitMix64.Next(ref state));
        Assert.Equal(0x6E789E6AA1B965F4UL, SplitMix64.Next(ref state));
        Assert.Equal(0x06C45D188009454FUL, SplitMix64.Next(ref state));
    }
}
