using Sweeper.Core.Spec;
using Sweeper.Training.Models;
using Sweeper.Training.Quantized;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Models;

public sealed class MobileNetV2Tests
{
    public MobileNetV2Tests() => torch.set_num_threads(1);

    [Theory]
    [InlineData(28, 1)]
    [InlineData(28, 3)]
    [InlineData(32, 1)]
    [InlineData(32, 3)]
    public void Forward_InputSizeAndChannels_OneLogitPerClassWithTwoByTwoFinalMaps(int size, int channels)
    {
        using var model = new MobileNetV2(width: 0.25, inputChannels: channels, classes: 10);
        using var scope = torch.NewDisposeScope();
        model.eval();

        var logits = model.forward(torch.randn(2, channels, size, size));

        Assert.Equal(new long[] { 2, 10 }, logits.shape);
        Assert.True(logits.isfinite().all().item<bool>());
    }

    [Fact]
    public void Forward_Training_GradientReachesTheStemThroughResiduals()
    {
        using var model = new MobileNetV2(width: 0.25);
        using var scope = torch.NewDisposeScope();

        model.forward(torch.randn(4, 1, 28, 28)).sum().backward();

        var stem = (ConvBn)model.Layers[0];
        Assert.Equal("stem", stem.LayerName);
        Assert.NotNull(stem.Weight.grad);
        Assert.True(stem.Weight.grad!.abs().sum().item<float>() > 0);
    }

    [Theory]
    [InlineData(32 * 0.5, 16)]
    [InlineData(24 * 0.5, 16)]   // 12 rounds to 16 (8 would be more than 10 % below)
    [InlineData(16 * 0.5, 8)]
    [InlineData(96 * 0.5, 48)]
    [InlineData(160 * 0.35, 56)]
    [InlineData(320 * 0.35, 112)]
    [InlineData(16 * 0.25, 8)]   // never below the divisor
    [InlineData(20.0, 24)]       // 20 + 4 = 24: halves round up
    public void MakeDivisible_WidthScaledChannels_NearestMultipleOfEight(double value, int expected)
    {
        Assert.Equal(expected, MobileNetV2.MakeDivisible(value));
    }

    [Fact]
    public void Layers_WidthHalf_NamedByModulePathWithExpansionSix()
    {
        using var model = new MobileNetV2(width: 0.5);

        var names = model.Layers.Select(l => l.LayerName).ToList();
        var shapes = model.Layers.ToDictionary(l => l.LayerName, l => l.WeightShape);

        // stem + block 0 (dw, project) + 16 blocks × 3 + head + classifier
        Assert.Equal(1 + 2 + 16 * 3 + 1 + 1, names.Count);
        Assert.Equal(["stem", "features.0.dw", "features.0.project", "features.1.expand"], names.Take(4));
        Assert.Equal(["head", "classifier"], names.TakeLast(2));
        Assert.Equal(new long[] { 16, 1, 3, 3 }, shapes["stem"]);
        Assert.Equal(new long[] { 48, 8, 1, 1 }, shapes["features.1.expand"]);  // 8 × 6
        Assert.Equal(new long[] { 48, 1, 3, 3 }, shapes["features.1.dw"]);      // depthwise
        Assert.Equal(new long[] { 1280, 160, 1, 1 }, shapes["head"]);
        Assert.Equal(new long[] { 10, 1280 }, shapes["classifier"]);
        Assert.Equal(1280, model.HeadOutputChannels);
    }

    [Fact]
    public void Constructor_SameGeneratorSeed_SameWeights()
    {
        using var g1 = new Generator(7);
        using var g2 = new Generator(7);
        using var a = new MobileNetV2(0.25, generator: g1);
        using var b = new MobileNetV2(0.25, generator: g2);

        Assert.All(a.parameters().Zip(b.parameters()), p => Assert.True(p.First.eq(p.Second).all().item<bool>()));
    }

    [Fact]
    public void ModelFactory_MobileNetV2Name_BuildsItWithTheSpecWidthAndChannels()
    {
        var spec = new TrainableSpec { Model = "mobilenet_v2", Width = 0.35, InputChannels = 3, Dataset = new DatasetSpec() };

        using var model = ModelFactory.Create(spec, inputChannels: 3, classes: 10);

        var v2 = Assert.IsType<MobileNetV2>(model);
        Assert.Equal(0.35, v2.Width);
        Assert.Equal(new long[] { 16, 3, 3, 3 }, v2.Layers[0].WeightShape);
        Assert.Contains("mobilenet_v2", ModelFactory.Names);
    }
}
