using static TorchSharp.torch;

namespace Sweeper.Training.Data;

/// <summary>
/// One split of an image classification data set as tensors: <see cref="Images"/> float32 [N,C,H,W], normalized,
/// and <see cref="Labels"/> int64 [N]. Split tensors handed out by <see cref="DatasetFactory.GetShared"/> are shared
/// by every trial of the process: read them (index_select, narrow), never modify or dispose them.
/// </summary>
public sealed class ImageSplit
{
    internal ImageSplit(Tensor images, Tensor labels)
    {
        Images = images;
        Labels = labels;
    }

    public Tensor Images { get; }
    public Tensor Labels { get; }
    public int Count => (int)Labels.shape[0];
}

/// <summary>The train, validation (optional) and test splits of a data set, and how its pixels were normalized.</summary>
public sealed class ImageDataset
{
    /// <param name="mean">Per channel: the mean subtracted from the raw pixels (scaled to [0,1] for byte images).</param>
    /// <param name="std">Per channel: the standard deviation the centred pixels were divided by.</param>
    internal ImageDataset(
        string name, string path, ImageSplit train, ImageSplit test, int classes,
        IReadOnlyList<float> mean, IReadOnlyList<float> std, ImageSplit? validation = null)
    {
        if (mean.Count == 0 || mean.Count != std.Count)
            throw new ArgumentException($"Need one mean and one std per channel; got {mean.Count} means and {std.Count} stds.", nameof(std));
        Name = name; Path = path; Train = train; Test = test; Classes = classes; Validation = validation;
        Mean = mean.ToArray();
        Std = std.ToArray();
        // Float arithmetic, as the pixels are normalized in float32: padding before or after normalization agrees.
        ZeroPixelValues = Mean.Select((m, c) => (double)((0 - m) / Std[c])).ToArray();
    }

    public string Name { get; }
    /// <summary>The folder the data was read from (full path).</summary>
    public string Path { get; }
    /// <summary>The images trained on (without the validation images, when there are any).</summary>
    public ImageSplit Train { get; }
    /// <summary>Images held out of the training set to select and prune trials on (null: none held out).</summary>
    public ImageSplit? Validation { get; }
    public ImageSplit Test { get; }
    public int Channels => Mean.Count;
    public int Classes { get; }
    /// <summary>Per channel: the mean subtracted from the raw pixels (byte pixels are first scaled to [0,1]).</summary>
    public IReadOnlyList<float> Mean { get; }
    /// <summary>Per channel: the standard deviation the centred pixels were divided by.</summary>
    public IReadOnlyList<float> Std { get; }
    /// <summary>
    /// Per channel: the normalized value of a raw 0 (black) pixel, <c>(0 - mean) / std</c>: what zero-padding the raw
    /// images pads with (<see cref="InputTransform"/>).
    /// </summary>
    public IReadOnlyList<double> ZeroPixelValues { get; }
    /// <summary>Side of the (square) images.</summary>
    public int ImageSize => (int)Train.Images.shape[^1];

    /// <summary>The same data set with other splits (same name, folder, classes and normalization).</summary>
    internal ImageDataset WithSplits(ImageSplit train, ImageSplit test, ImageSplit? validation) =>
        new(Name, Path, train, test, Classes, Mean, Std, validation);
}
