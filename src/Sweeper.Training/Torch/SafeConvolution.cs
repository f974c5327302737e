using Sweeper.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Torch;

/// <summary>
/// The 2-D convolution every Sweeper layer computes with (<c>ConvBn</c>, <c>QuantConv2d</c>, and through them every
/// plug-in model): libtorch's <c>conv2d</c>, with the channels padded where the oneDNN 3.7.1 inside libtorch 2.10 computes
/// wrong gradients.
/// <para>
/// Its backward kernels for a dense convolution whose channel counts are not multiples of the CPU's SIMD block (16 floats
/// with AVX-512, 8 with AVX2) read and write the padding of its blocked buffers: a 3×3 convolution with 8 or 12 channels
/// gets a gradient that is NaN in some calls and not in others (memory it never wrote), and with channels-last inputs the
/// same kernels, or the 1×1 strided one, corrupt the heap ("double free or corruption"). A seeded plug-in trial
/// (samples/TinyResNet, 8 channels) diverged, at a different step each time, in about half its runs. Such a convolution runs here with its input
/// and output channels zero-padded to multiples of 16 (the padded input channels meet zero weights, the padded outputs
/// are cut off: the same sums, and the same gradients for the real channels), where those kernels are right. Every other
/// convolution, and every one whose input needs no gradient (a first layer: the faulty kernels compute the input's
/// gradient), is libtorch's as it is.
/// </para>
/// </summary>
public static class SafeConvolution
{
    /// <summary>Channel counts that are multiples of this avoid the padded buffers on every x86 ISA oneDNN targets.</summary>
    public const int SafeChannelMultiple = 16;

    /// <summary>Whether <see cref="Conv2d"/> pads this convolution's channels.</summary>
    public static bool PadsChannels(Tensor input, Tensor weight, long[] stride, long groups) =>
        groups == 1 && input.requires_grad && input.device_type == DeviceType.CPU && input.ndim == 4
        && (weight.size(1) % SafeChannelMultiple != 0 || weight.size(0) % SafeChannelMultiple != 0) // size(i), not shape: see WeightQuantizer.HasShape
        && (weight.size(2) > 1 || weight.size(3) > 1 || stride.Any(s => s > 1));

    /// <summary><c>conv2d(input, weight, bias, stride, padding, dilation 1, groups)</c>, with its channels padded as the class summary says.</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, long[] stride, long[] padding, long groups)
    {
        if (!PadsChannels(input, weight, stride, groups))
            return nn.functional.conv2d(input, weight, bias, stride, padding, null, groups);

        using var scope = torch.NewDisposeScope();
        long inChannels = weight.size(1), outChannels = weight.size(0);
        long extraIn = RoundUp(inChannels) - inChannels, extraOut = RoundUp(outChannels) - outChannels;
        var x = extraIn == 0 ? input : nn.functional.pad(input, [0, 0, 0, 0, 0, extraIn]); // (W, H, C) from the last dimension
        var w = extraIn == 0 && extraOut == 0 ? weight : nn.functional.pad(weight, [0, 0, 0, 0, 0, extraIn, 0, extraOut]);
        var y = nn.functional.conv2d(x, w, null, stride, padding, null, 1);
        if (extraOut > 0) y = y.narrow(1, 0, outChannels);
        if (bias is not null) y = y.Plus(bias.reshape(1, -1, 1, 1));
        return y.MoveToOuterDisposeScope();
    }

    private static long RoundUp(long channels) => (channels + SafeChannelMultiple - 1) / SafeChannelMultiple * SafeChannelMultiple;
}
