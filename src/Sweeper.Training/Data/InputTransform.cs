using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Data;

/// <summary>
/// What the model sees of a batch of [N, C, H, W] images: zero-padded to <see cref="Size"/> (equal padding on every side;
/// "zero" is the value a raw 0 pixel has after normalization, <see cref="ImageDataset.ZeroPixelValue"/>, so padding
/// before or after normalization gives the same image) and, for a grey data set, the grey channel repeated to
/// <see cref="Channels"/> channels. Applied per batch (cheap), so the shared data set tensors stay as loaded.
/// </summary>
public sealed class InputTransform
{
    /// <param name="imageSize">Side of the data set's images.</param>
    /// <param name="imageChannels">Channels of the data set's images.</param>
    /// <param name="size">Side the model sees (≥ the image side; the difference must be even).</param>
    /// <param name="channels">Channels the model sees: the image's, or 3 for a grey image.</param>
    /// <param name="zeroPixelValue">The normalized value of a raw 0 pixel (the padding value).</param>
    public InputTransform(int imageSize, int imageChannels, int size, int channels, double zeroPixelValue)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(imageSize, 1);
        if (size < imageSize || (size - imageSize) % 2 != 0)
            throw new ArgumentException($"Cannot pad {imageSize}×{imageSize} images to {size}×{size} (the input size must exceed the image side by an even number).", nameof(size));
        if (channels != imageChannels && !(imageChannels == 1 && channels == 3))
            throw new ArgumentException($"Cannot turn {imageChannels}-channel images into {channels} channels (only grey → 3 is supported).", nameof(channels));
        ImageSize = imageSize;
        Size = size;
        Channels = channels;
        ImageChannels = imageChannels;
        ZeroPixelValue = zeroPixelValue;
    }

    public int ImageSize { get; }
    public int ImageChannels { get; }
    public int Size { get; }
    public int Channels { get; }
    public double ZeroPixelValue { get; }

    /// <summary>Whether <see cref="Apply"/> returns its input unchanged.</summary>
    public bool IsIdentity => Size == ImageSize && Channels == ImageChannels;

    /// <summary>The transformed batch (a new tensor, or <paramref name="batch"/> itself when <see cref="IsIdentity"/>).</summary>
    public Tensor Apply(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var x = batch;
        if (Size != ImageSize)
        {
            long p = (Size - ImageSize) / 2;
            x = nn.functional.pad(x, [p, p, p, p], PaddingModes.Constant, ZeroPixelValue);
        }
        if (Channels != ImageChannels)
            x = x.expand(-1, Channels, -1, -1).contiguous();
        return x;
    }
}
