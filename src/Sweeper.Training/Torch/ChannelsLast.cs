using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Torch;

/// <summary>
/// The channels-last ("NHWC") memory layout for 4-D activations, which TorchSharp 0.107 has no call for
/// (<c>memory_format</c> is missing from its API). The tensor keeps its N×C×H×W shape; only its strides change, so every
/// operator sees the same values. libtorch picks its kernels by the layout of a convolution's input: a channels-last
/// input gives a channels-last output, and its convolutions (oneDNN), depthwise convolutions, batch norm and
/// element-wise kernels then run over contiguous channels. A MobileNet training step on one CPU thread takes a little
/// over half the time it takes in the default layout (README, "Speed and memory"; <c>sweeper bench quantizers
/// --compare-pytorch</c> prints ours beside PyTorch's in both layouts).
/// </summary>
public static class ChannelsLast
{
    /// <summary>The channels-last strides of a tensor of shape N×C×H×W: (H·W·C, 1, W·C, C).</summary>
    public static long[] Strides(ReadOnlySpan<long> shape)
    {
        if (shape.Length != 4) throw new ArgumentException($"expected a 4-D shape (N, C, H, W), got {shape.Length}-D.", nameof(shape));
        long c = shape[1], h = shape[2], w = shape[3];
        return [h * w * c, 1, w * c, c];
    }

    /// <summary>Whether <paramref name="t"/> is 4-D and laid out channels-last (its strides are exactly <see cref="Strides"/>).</summary>
    public static bool Is(Tensor t) => t.ndim == 4 && t.stride().AsSpan().SequenceEqual(Strides(t.shape));

    /// <summary>
    /// <paramref name="x"/> (N×C×H×W) in the channels-last layout: itself if it already is one; a view with channels-last
    /// strides when the layout is the same in memory (one channel, a contiguous tensor: libtorch reads the strides, and a
    /// 1-channel tensor's default strides leave the layout ambiguous, which it resolves as the default layout); otherwise a
    /// copy. Differentiable, like the operations it is made of. Tensors that are not 4-D are returned unchanged.
    /// </summary>
    public static Tensor Of(Tensor x)
    {
        if (x.ndim != 4 || Is(x)) return x.alias();
        var strides = Strides(x.shape);
        if (x.shape[1] == 1 && x.is_contiguous()) return x.as_strided(x.shape, strides, x.storage_offset());
        using var nhwc = x.permute(0, 2, 3, 1);
        using var dense = nhwc.contiguous();
        return dense.permute(0, 3, 1, 2);
    }
}
