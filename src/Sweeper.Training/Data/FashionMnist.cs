namespace Sweeper.Training.Data;

/// <summary>
/// Fashion-MNIST (60 000 training and 10 000 test images of 28×28, 10 classes) from its four idx files,
/// gzip-compressed or not (<see cref="IdxDataset"/>). Pixels are scaled to [0,1] and normalized with the fixed mean
/// 0.2860 and std 0.3530 (not the training images' own, so that results stay comparable across versions).
/// </summary>
public static class FashionMnist
{
    public const string Name = "fashion_mnist";
    public const string DefaultPath = "/usr/share/datasets/fashion-mnist";
    public const float Mean = 0.2860f;
    public const float Std = 0.3530f;
    public const int Classes = 10;
    public const int ImageSize = 28;

    public const string HowToInstall =
        "Install it with `apt-get install dataset-fashion-mnist` (Debian) or set trainable.dataset.path to the folder holding its idx files.";

    /// <summary>
    /// The process-wide copy of the data set for this folder and these subset sizes (<see cref="IdxDataset.GetShared"/>,
    /// the same copy <see cref="DatasetFactory.GetShared"/> hands out). Never modify or dispose its tensors.
    /// </summary>
    /// <exception cref="DatasetNotFoundException">The folder or a file is missing (not cached: a later call tries again).</exception>
    /// <exception cref="InvalidDataException">A file is malformed (not cached either).</exception>
    public static ImageDataset GetShared(string path, int? trainSubset = null, int? testSubset = null) =>
        IdxDataset.GetShared(Name, path, trainSubset, testSubset);

    /// <summary>
    /// Loads the data set into new tensors that the caller owns (they belong to no dispose scope).
    /// <paramref name="trainSubset"/> and <paramref name="testSubset"/> keep only the first N images of a split.
    /// </summary>
    public static ImageDataset Load(string path, int? trainSubset = null, int? testSubset = null) =>
        IdxDataset.Load(Name, path, trainSubset, testSubset);
}
