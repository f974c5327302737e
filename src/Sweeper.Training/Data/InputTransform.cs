using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Data;

/// <summary>
/// What the model sees of a batch of normalized [N, C, H, W] images: first resized to <see cref="Size"/> — a larger
/// side zero-pads evenly on every side, a smaller one crops the centre — then converted to <see cref="Channels"/>.
/// Applied per batch (cheap), so the shared data set tensors stay as loaded.
/// </summary>
/// <remarks>
/// <para>Padding: "zero" is, per channel, the value a raw 0 pixel has after normalization
/// (<see cref="ImageDataset.ZeroPixelValues"/>), so padding before or after normalization gives the same image.</para>
/// <para>Channels: grey → 3 repeats the grey channel; 3 → grey takes the luminance 0.299 R + 0.587 G + 0.114 B of the
/// normalized channels (a weighted sum of the model's inputs, not a re-normalized grey image); equal counts are left
/// alone. Padding happens before the channel conversion, so a padded border has the converted zero pixel's value.</para>
/// </remarks>
public sealed class InputTransform
{
    /// <summary>The luminance weights of the red, green and blue channels (ITU-R BT.601).</summary>
    public static IReadOnlyList<float> LuminanceWeights { get; } = [0.299f, 0.587f, 0.114f];

    private readonly float[] zeroPixelValues;

    /// <param name="imageSize">Side of the data set's images.</param>
    /// <param name="imageChannels">Channels of the data set's images.</param>
    /// <param name="size">Side the model sees (its difference from the image side must be even).</param>
    /// <param name="channels">Channels the model sees: the image's, 3 for a grey image, or 1 for a colour image.</param>
    /// <param name="zeroPixelValues">Per image channel: the normalized value of a raw 0 pixel (the padding value).</param>
    /// <exception cref="ArgumentException">An odd size difference, an unsupported channel conversion, or not one zero value per channel.</exception>
    public InputTransform(int imageSize, int imageChannels, int size, int channels, IReadOnlyList<double> zeroPixelValues)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(imageSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageChannels, 1);
        ArgumentNullException.ThrowIfNull(zeroPixelValues);
        if (size < 1)
            throw new ArgumentException($"The input size must be at least 1; got {size}.", nameof(size));
        if ((size - imageSize) % 2 != 0)
            throw new ArgumentException(
                size > imageSize
                    ? $"Cannot pad {imageSize}×{imageSize} images to {size}×{size}: the input size must exceed the image side by an even number (trainable.input_size)."
                    : $"Cannot crop {imageSize}×{imageSize} images to {size}×{size}: the input size must fall short of the image side by an even number (trainable.input_size).",
                nameof(size));
        if (channels != imageChannels && !(imageChannels == 1 && channels == 3) && !(imageChannels == 3 && channels == 1))
            throw new ArgumentException(
                $"Cannot turn {imageChannels}-channel images into {channels} channels (supported: the same count, grey → 3, 3 → grey) (trainable.input_channels).",
                nameof(channels));
        if (zeroPixelValues.Count != imageChannels)
            throw new ArgumentException($"Need one zero pixel value per image channel ({imageChannels}); got {zeroPixelValues.Count}.", nameof(zeroPixelValues));
        ImageSize = imageSize;
        Size = size;
        Channels = channels;
        ImageChannels = imageChannels;
        this.zeroPixelValues = zeroPixelValues.Select(v => (float)v).ToArray();
        ZeroPixelValues = zeroPixelValues.ToArray();
    }

    /// <summary>A transform whose padding value is <paramref name="zeroPixelValue"/> in every channel.</summary>
    public InputTransform(int imageSize, int imageChannels, int size, int channels, double zeroPixelValue)
        : this(imageSize, imageChannels, size, channels, Enumerable.Repeat(zeroPixelValue, Math.Max(1, imageChannels)).ToArray())
    {
    }

    /// <summary>The transform from <paramref name="data"/>'s images to <paramref name="size"/> × <paramref name="channels"/> (null: the images' own).</summary>
    /// <exception cref="ArgumentException">A size or channel count the images cannot be turned into.</exception>
    public static InputTransform For(ImageDataset data, int? size, int? channels)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new InputTransform(data.ImageSize, data.Channels, size ?? data.ImageSize, channels ?? data.Channels, data.ZeroPixelValues);
    }

    public int ImageSize { get; }
    public int ImageChannels { get; }
    public int Size { get; }
    public int Channels { get; }
    /// <summary>Per image channel: the padding value.</summary>
    public IReadOnlyList<double> ZeroPixelValues { get; }

    /// <summary>Whether <see cref="Apply"/> returns its input unchanged.</summary>
    public bool IsIdentity => Size == ImageSize && Channels == ImageChannels;

    /// <summary>The transformed batch (a new contiguous tensor, or <paramref name="batch"/> itself when <see cref="IsIdentity"/>).</summary>
    public Tensor Apply(Tensor batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (IsIdentity) return batch;
        var x = batch;
        if (Size > ImageSize)
        {
            long p = (Size - ImageSize) / 2;
            if (zeroPixelValues.All(v => v == zeroPixelValues[0]))
            {
                x = nn.functional.pad(x, [p, p, p, p], PaddingModes.Constant, zeroPixelValues[0]);
            }
            else
            {
                // A canvas of each channel's zero pixel, the images copied into its centre: exact values, no arithmetic.
                using var fill = torch.tensor(zeroPixelValues, [1, ImageChannels, 1, 1], dtype: x.dtype, device: x.device);
                var canvas = fill.expand(x.shape[0], ImageChannels, Size, Size).contiguous();
                canvas.narrow(2, p, ImageSize).narrow(3, p, ImageSize).copy_(x);
                x = canvas;
            }
        }
        else if (Size < ImageSize)
        {
            long p = (ImageSize - Size) / 2;
            x = x.narrow(2, p, Size).narrow(3, p, Size);
        }
        if (Channels != ImageChannels)
        {
            if (ImageChannels == 1)
            {
                x = x.expand(-1, Channels, -1, -1);
            }
            else
            {
                using var weights = torch.tensor(LuminanceWeights.ToArray(), [1, 3, 1, 1], dtype: x.dtype, device: x.device);
                x = (x * weights).sum(1, keepdim: true);
            }
        }
        return x.contiguous();
    }
}
