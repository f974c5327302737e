using Sweeper.Core.Spec;
using Sweeper.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Models;

public sealed class MobileNetV1Tests
{
    public MobileNetV1Tests() => torch.set_num_threads(1);

    [Theory]
    [InlineData(32, 0.25, 8)]
    [InlineData(64, 0.25, 16)]
    [InlineData(1024, 0.25, 256)]
    [InlineData(1024, 0.5, 512)]
    [InlineData(32, 0.1, 8)]     // never below 8
    [InlineData(64, 0.3, 19)]    // 19.2 rounds down
    [InlineData(128, 0.3, 38)]   // 38.4
    [InlineData(40, 0.75, 30)]
    [InlineData(26, 0.75, 20)]   // 19.5 rounds away from zero
    public void ScaleChannels_WidthMultiplier_RoundsWithFloorOfEight(int channels, double width, int expected)
    {
        Assert.Equal(expected, MobileNetV1.ScaleChannels(channels, width));
    }

    [Fact]
    public void Forward_GreyBatch_ReturnsOneLogitPerClass()
    {
        using var model = new MobileNetV1(width: 0.25);
        using var scope = torch.NewDisposeScope();
        model.eval();

        var logits = model.forward(torch.randn(2, 1, 28, 28));

        Assert.Equal(new long[] { 2, 10 }, logits.shape);
        Assert.Equal(256, model.FeatureChannels);
    }

    [Fact]
    public void Forward_ColourInputAndFiveClasses_ReturnsFiveLogits()
    {
        using var model = new MobileNetV1(width: 0.25, inputChannels: 3, classes: 5);
        using var scope = torch.NewDisposeScope();
        model.eval();

        var logits = model.forward(torch.randn(2, 3, 32, 32));

        Assert.Equal(new long[] { 2, 5 }, logits.shape);
    }

    [Fact]
    public void Forward_Training_GradientReachesTheStem()
    {
        using var model = new MobileNetV1(width: 0.25);
        using var scope = torch.NewDisposeScope();

        model.forward(torch.randn(4, 1, 28, 28)).sum().backward();

        var stemWeight = model.named_parameters().First().parameter;
        Assert.NotNull(stemWeight.grad);
        Assert.True(stemWeight.grad!.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Layers_Width025_StemDepthwisePointwiseClassifierByModulePath()
    {
        using var model = new MobileNetV1(width: 0.25);

        var names = model.Layers.Select(l => l.LayerName).ToList();

        Assert.Equal(1 + 13 * 2 + 1, names.Count);
        Assert.Equal(["stem", "features.0.dw", "features.0.pw", "features.1.dw"], names.Take(4));
        Assert.Contains("features.3.pw", names);
        Assert.Equal("classifier", names[^1]);
        Assert.Equal(new long[] { 16, 1, 3, 3 }, model.Layers.Single(l => l.LayerName == "features.1.dw").WeightShape);
    }

    [Fact]
    public void Constructor_SameGeneratorSeed_SameWeights()
    {
        using var g1 = new Generator(7);
        using var g2 = new Generator(7);
        using var g3 = new Generator(8);
        using var a = new MobileNetV1(0.25, generator: g1);
        using var b = new MobileNetV1(0.25, generator: g2);
        using var c = new MobileNetV1(0.25, generator: g3);

        var pa = a.parameters().ToList();
        var pb = b.parameters().ToList();
        var pc = c.parameters().ToList();
        Assert.All(pa.Zip(pb), p => Assert.True(p.First.eq(p.Second).all().item<bool>()));
        Assert.False(pa[0].eq(pc[0]).all().item<bool>());
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(double.NaN)]
    public void Constructor_NonPositiveWidth_ThrowsArgumentOutOfRange(double width)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MobileNetV1(width));
    }

    [Fact]
    public void ModelFactory_MobileNetV1Name_BuildsItWithTheSpecWidth()
    {
        var spec = new TrainableSpec { Model = "mobilenet_v1", Width = 0.5, Dataset = new DatasetSpec() };

        using var model = ModelFactory.Create(spec, inputChannels: 1, classes: 10);

        var mobileNet = Assert.IsType<MobileNetV1>(model);
        Assert.Equal(0.5, mobileNet.Width);
        Assert.Equal(512, mobileNet.FeatureChannels);
    }

    [Fact]
    public void ModelFactory_UnknownModel_ThrowsListingValidNames()
    {
        var spec = new TrainableSpec { Model = "resnet18", Dataset = new DatasetSpec() };

        var e = Assert.Throws<ArgumentException>(() => ModelFactory.Create(spec, 1, 10));

        Assert.Contains("resnet18", e.Message);
        Assert.Contains("mobilenet_v1", e.Message);
        Assert.Contains("mobilenet_v2", e.Message);
    }
}
