using Sweeper.Training.Models;
using Sweeper.Training.Quantized;
using Sweeper.Training.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Models;

public sealed class ChannelsLastTests
{
    public ChannelsLastTests() => torch.set_num_threads(1);

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(16)]
    public void Of_AnyChannelCount_SameValuesWithChannelsLastStrides(int channels)
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(2, channels, 5, 7);
        Assert.False(channels > 1 && ChannelsLast.Is(x));

        var y = ChannelsLast.Of(x);

        Assert.Equal(x.shape, y.shape);
        Assert.Equal(new long[] { 5 * 7 * channels, 1, 7 * channels, channels }, y.stride());
        Assert.True(ChannelsLast.Is(y));
        Assert.True(x.eq(y).all().item<bool>());
        Assert.True(ChannelsLast.Is(ChannelsLast.Of(y)));
    }

    [Fact]
    public void Of_NotFourDimensional_Unchanged()
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(3, 4);
        var y = ChannelsLast.Of(x);
        Assert.Equal(x.stride(), y.stride());
        Assert.False(ChannelsLast.Is(y));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void Convolution_ChannelsLastInput_ChannelsLastOutputSameValuesAndGradients(int channels)
    {
        // libtorch chooses the layout of a convolution's output from its input's: a one-channel image in the default
        // layout is ambiguous and stays in the default layout, the view made by Of is not.
        using var scope = torch.NewDisposeScope();
        using var init = new Generator(3);
        var x = torch.randn([4, channels, 12, 12], generator: init);
        var plain = new ConvBn(channels, 16, kernelSize: 3);
        var nhwc = new ConvBn(channels, 16, kernelSize: 3);
        using (torch.no_grad()) plain.Weight.copy_(torch.randn(plain.Weight.shape, generator: init));
        nhwc.load_state_dict(plain.state_dict());

        var a = plain.forward(x);
        var b = nhwc.forward(ChannelsLast.Of(x));
        Assert.False(ChannelsLast.Is(a));
        Assert.True(ChannelsLast.Is(b));
        AssertClose(a, b, "output");

        var projection = torch.randn(a.shape, generator: init); // a loss that depends on the weights' scale through BN
        (a * projection).sum().backward();
        (b * projection).sum().backward();
        AssertClose(plain.Weight.grad!, nhwc.Weight.grad!, "weight gradient");
    }

    [Fact]
    public void MobileNetV1_OneChannelInput_SameLogitsAndGradientsAsItsLayersInTheDefaultLayout()
    {
        // The model lays its input out channels-last; its layers run one by one on the 1-channel input as it comes
        // (which libtorch keeps in the default layout) give the reference. Training mode: batch statistics, gradients.
        using var scope = torch.NewDisposeScope();
        using var init = new Generator(5);
        var model = new MobileNetV1(width: 0.25, generator: init);
        var x = torch.randn([4, 1, 28, 28], generator: init);
        var stem = (ConvBn)model.Layers[0];
        bool? stemChannelsLast = null;
        var hook = stem.register_forward_hook((_, _, output) => { stemChannelsLast = ChannelsLast.Is(output); return output; });
        model.forward(x);
        hook.remove();
        Assert.True(stemChannelsLast, "the model should feed its network channels-last");
        var logits = model.forward(x);
        var projection = torch.randn(logits.shape, generator: init);
        (logits * projection).sum().backward();
        var grads = model.Layers.OfType<ConvBn>().Select(l => l.Weight.grad!.clone()).ToList();
        model.zero_grad();

        var h = x;
        var convs = model.Layers.OfType<ConvBn>().ToList();
        foreach (var layer in convs)
        {
            h = layer.forward(h);
            Assert.False(ChannelsLast.Is(h), $"{layer.LayerName}: the reference should run in the default layout");
        }
        var reference = ((nn.Module<Tensor, Tensor>)model.Layers[^1]).forward(h.mean([2, 3]));
        (reference * projection).sum().backward();

        AssertClose(reference, logits, "logits");
        for (int i = 0; i < convs.Count; i++)
            AssertClose(convs[i].Weight.grad!, grads[i], $"{convs[i].LayerName} weight gradient", tolerance: 2e-3); // 14 layers deep
    }

    /// <summary>Not all zero (a comparison of zeros proves nothing), and equal up to the rounding of differently ordered sums.</summary>
    private static void AssertClose(Tensor expected, Tensor actual, string what, double tolerance = 1e-4)
    {
        Assert.True(expected.abs().max().item<float>() > 0, $"{what}: all zero");
        TensorAssert.Close(expected, actual, tolerance, what);
    }
}
