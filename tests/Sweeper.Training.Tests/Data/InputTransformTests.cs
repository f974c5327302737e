using Sweeper.Training.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Sweeper.Training.Tests.Data;

public sealed class InputTransformTests
{
    private const float Zero = (0 - FashionMnist.Mean) / FashionMnist.Std;

    [Fact]
    public void Apply_Size32_PadsTwoPixelsOfTheNormalizedZeroPixel()
    {
        using var scope = torch.NewDisposeScope();
        var transform = new InputTransform(28, 1, 32, 1, Zero);
        var batch = torch.rand([2, 1, 28, 28]) + 1;

        var x = transform.Apply(batch);

        Assert.Equal(new long[] { 2, 1, 32, 32 }, x.shape);
        Assert.True(x[.., .., 2..30, 2..30].eq(batch).all().item<bool>());
        var border = x.sum().item<float>() - batch.sum().item<float>();
        Assert.Equal((32 * 32 - 28 * 28) * 2 * Zero, border, 1e-2);
        Assert.Equal(Zero, x[0, 0, 0, 0].item<float>());
        Assert.Equal(Zero, x[1, 0, 31, 29].item<float>());
    }

    [Fact]
    public void Apply_ThreeChannels_RepeatsTheGreyChannel()
    {
        using var scope = torch.NewDisposeScope();
        var transform = new InputTransform(28, 1, 32, 3, Zero);
        var batch = torch.rand([2, 1, 28, 28]);

        var x = transform.Apply(batch);

        Assert.Equal(new long[] { 2, 3, 32, 32 }, x.shape);
        Assert.True(x[.., 0].eq(x[.., 1]).all().item<bool>());
        Assert.True(x[.., 2].eq(x[.., 0]).all().item<bool>());
        Assert.True(x.is_contiguous());
    }

    [Fact]
    public void Apply_SameSizeAndChannels_ReturnsTheBatchItself()
    {
        using var scope = torch.NewDisposeScope();
        var transform = new InputTransform(28, 1, 28, 1, Zero);
        var batch = torch.rand([1, 1, 28, 28]);

        Assert.True(transform.IsIdentity);
        Assert.Same(batch, transform.Apply(batch));
    }

    [Theory]
    [InlineData(28, 1, 29, 1)]   // odd padding
    [InlineData(28, 1, 25, 1)]   // odd crop
    [InlineData(28, 3, 28, 2)]   // colour to two channels
    [InlineData(28, 1, 28, 2)]   // grey to two channels
    [InlineData(28, 1, 0, 1)]    // nothing left
    public void Constructor_UnsupportedTransform_ThrowsArgument(int imageSize, int imageChannels, int size, int channels)
    {
        Assert.Throws<ArgumentException>(() => new InputTransform(imageSize, imageChannels, size, channels, 0));
    }

    [Fact]
    public void Apply_SmallerSize_CropsTheCentre()
    {
        using var scope = torch.NewDisposeScope();
        var transform = new InputTransform(6, 1, 2, 1, Zero);
        var batch = torch.arange(2 * 36, dtype: ScalarType.Float32).view(2, 1, 6, 6);

        var x = transform.Apply(batch);

        Assert.Equal(new long[] { 2, 1, 2, 2 }, x.shape);
        // Rows and columns 2..3 of each 6×6 image: image 1 starts at 36.
        Assert.Equal(new float[] { 14, 15, 20, 21, 50, 51, 56, 57 }, x.data<float>().ToArray());
        Assert.True(x.is_contiguous());
    }

    [Fact]
    public void Apply_ColourPadded_PadsEachChannelWithItsOwnZeroPixel()
    {
        using var scope = torch.NewDisposeScope();
        var transform = new InputTransform(2, 3, 4, 3, [-1.0, -2.0, -3.0]);
        var batch = torch.full([1, 3, 2, 2], 5f);

        var x = transform.Apply(batch);

        Assert.Equal(new long[] { 1, 3, 4, 4 }, x.shape);
        Assert.Equal(new float[] { -1, -2, -3 }, new[] { x[0, 0, 0, 0], x[0, 1, 3, 1], x[0, 2, 2, 3] }.Select(t => t.item<float>()));
        Assert.True(x[.., .., 1..3, 1..3].eq(5f).all().item<bool>());
        Assert.Equal(new[] { -12 + 20, -24 + 20, -36 + 20 }.Select(v => (float)v), Enumerable.Range(0, 3).Select(c => x[0, c].sum().item<float>()));
    }

    [Fact]
    public void Apply_ColourToGrey_TakesTheLuminanceOfTheNormalizedChannels()
    {
        using var scope = torch.NewDisposeScope();
        var transform = new InputTransform(2, 3, 4, 1, [-1.0, 0.0, 1.0]);
        var batch = torch.tensor(new float[] { 1, 1, 1, 1, 2, 2, 2, 2, 10, 10, 10, 10 }, [1, 3, 2, 2]);

        var x = transform.Apply(batch);

        Assert.Equal(new long[] { 1, 1, 4, 4 }, x.shape);
        Assert.Equal(0.299f * 1 + 0.587f * 2 + 0.114f * 10, x[0, 0, 1, 1].item<float>(), 5);
        // The border is the luminance of the zero pixels, padded before the conversion.
        Assert.Equal(0.299f * -1 + 0.114f * 1, x[0, 0, 0, 0].item<float>(), 5);
    }

    [Fact]
    public void For_NullSizeAndChannels_IsTheImagesOwn()
    {
        var data = FashionMnist.GetShared(FashionMnist.DefaultPath, 64, 16);

        var own = InputTransform.For(data, null, null);
        var padded = InputTransform.For(data, 32, 3);

        Assert.True(own.IsIdentity);
        Assert.Equal((28, 1), (own.Size, own.Channels));
        Assert.Equal((32, 3, 28, 1), (padded.Size, padded.Channels, padded.ImageSize, padded.ImageChannels));
        Assert.Equal(data.ZeroPixelValues, padded.ZeroPixelValues);
    }

    [Fact]
    public void Constructor_OddCrop_SaysCropAndTheKey()
    {
        var e = Assert.Throws<ArgumentException>(() => new InputTransform(32, 3, 27, 3, [0.0, 0.0, 0.0]));

        Assert.Contains("crop", e.Message);
        Assert.Contains("trainable.input_size", e.Message);
    }

    [Fact]
    public void FashionMnist_ZeroPixelValue_IsTheNormalizedBlackPixel()
    {
        var data = FashionMnist.GetShared(FashionMnist.DefaultPath, 64, 16);

        Assert.Equal(Zero, (float)data.ZeroPixelValues[0]);
        Assert.Equal(data.Train.Images.min().item<float>(), (float)data.ZeroPixelValues[0]); // Fashion-MNIST has black pixels
        Assert.Equal(28, data.ImageSize);
    }
}
