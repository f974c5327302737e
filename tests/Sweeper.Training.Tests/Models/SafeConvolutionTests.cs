using Sweeper.Training.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Models;

/// <summary>
/// <see cref="SafeConvolution"/>: the shapes whose libtorch (oneDNN 3.7.1) backward reads or writes the padding of its
/// blocked buffers run with their channels padded to multiples of 16, with the true values and gradients (checked against
/// float64, which oneDNN does not compute) and the same gradients at every call.
/// </summary>
public sealed class SafeConvolutionTests
{
    public SafeConvolutionTests() => torch.set_num_threads(1);

    [Theory]
    [InlineData(8, 8, 3, 1, false)]
    [InlineData(8, 12, 3, 1, false)]
    [InlineData(16, 12, 3, 2, false)]
    [InlineData(4, 8, 1, 2, false)]
    [InlineData(8, 8, 3, 1, true)]
    [InlineData(4, 8, 1, 2, true)]
    public void Conv2d_ShapeOneDnnGetsWrong_PaddedWithFloat64sValuesAndGradients(int inChannels, int outChannels, int kernel, int stride, bool channelsLast)
    {
        using var scope = torch.NewDisposeScope();
        using var init = new Generator(11);
        var x = torch.randn([6, inChannels, 13, 13], generator: init);
        if (channelsLast) x = ChannelsLast.Of(x);
        x = x.detach().requires_grad_(true);
        var w = torch.randn([outChannels, inChannels, kernel, kernel], generator: init).requires_grad_(true);
        var b = torch.randn([outChannels], generator: init).requires_grad_(true);
        long[] s = [stride, stride], p = [kernel / 2, kernel / 2];
        Assert.True(SafeConvolution.PadsChannels(x, w, s, 1));

        var y = SafeConvolution.Conv2d(x, w, b, s, p, 1);
        var projection = torch.randn(y.shape, generator: init);
        (y * projection).sum().backward();

        var x64 = x.detach().to(ScalarType.Float64).requires_grad_(true);
        var w64 = w.detach().to(ScalarType.Float64).requires_grad_(true);
        var b64 = b.detach().to(ScalarType.Float64).requires_grad_(true);
        var y64 = nn.functional.conv2d(x64, w64, b64, s, p);
        (y64 * projection.to(ScalarType.Float64)).sum().backward();

        TensorAssert.Close(y64, y, 1e-4, "output");
        TensorAssert.Close(x64.grad!, x.grad!, 1e-4, "input gradient");
        TensorAssert.Close(w64.grad!, w.grad!, 1e-4, "weight gradient");
        TensorAssert.Close(b64.grad!, b.grad!, 1e-4, "bias gradient");
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(4, 8)]
    [InlineData(12, 12)]
    [InlineData(16, 12)]
    [InlineData(40, 12)]
    public void Conv2d_3x3ShapeOneDnnGetsWrong_SameFiniteGradientsAtEveryCallOverFreedNaNMemory(int inChannels, int outChannels)
    {
        // Before every call, memory filled with NaN is freed, so that a kernel reading memory it did not write reads NaN:
        // libtorch's own conv2d then gave a non-finite gradient in 21 of these 100 calls on an AVX-512 CPU (1 of 100
        // without the NaN fill; a seeded 8-channel plug-in trial diverged at a different step in every run).
        using var scope = torch.NewDisposeScope();
        using var init = new Generator(1);
        var x = torch.randn([64, inChannels, 28, 28], generator: init).requires_grad_(true);
        var w = torch.randn([outChannels, inChannels, 3, 3], generator: init).requires_grad_(true);
        var projection = torch.randn([64, outChannels, 28, 28], generator: init);
        Tensor? first = null;
        for (int call = 0; call < 20; call++)
        {
            FreeNaNFilledMemory();
            using var step = torch.NewDisposeScope();
            x.grad?.zero_();
            w.grad?.zero_();
            (SafeConvolution.Conv2d(x, w, null, [1, 1], [1, 1], 1) * projection).sum().backward();
            var g = torch.cat([x.grad!.flatten(), w.grad!.flatten()]);
            Assert.True(g.isfinite().all().item<bool>(), $"call {call}: non-finite gradient");
            if (first is null) first = g.clone().MoveToOuterDisposeScope();
            else Assert.True(first.eq(g).all().item<bool>(), $"call {call}: the gradient differs from the first call's");
        }
    }

    private static void FreeNaNFilledMemory()
    {
        var blocks = new List<Tensor>();
        for (int j = 0; j < 8; j++) blocks.Add(torch.full([1L << (18 + j % 4)], float.NaN)); // 1-8 MiB each
        foreach (var block in blocks) block.Dispose();
    }

    [Theory]
    [InlineData(8, 8, 3, 1, 1, true)] // the faulty case: padded
    [InlineData(16, 32, 3, 1, 1, false)] // channel counts on the SIMD block: libtorch
    [InlineData(8, 8, 3, 1, 8, false)] // depthwise: libtorch
    [InlineData(8, 24, 1, 1, 1, false)] // 1×1, stride 1: libtorch
    [InlineData(8, 24, 1, 2, 1, true)] // 1×1, stride 2: padded
    [InlineData(1, 8, 3, 1, 1, false)] // a first layer (the input needs no gradient): libtorch
    public void PadsChannels_OnlyWhereTheBackwardIsFaulty(int inChannels, int outChannels, int kernel, int stride, int groups, bool expected)
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.zeros(2, inChannels, 8, 8).requires_grad_(inChannels != 1);
        var w = torch.zeros(outChannels, inChannels / groups, kernel, kernel);
        Assert.Equal(expected, SafeConvolution.PadsChannels(x, w, [stride, stride], groups));
    }
}
