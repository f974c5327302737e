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
    public void FashionMnist_ZeroPixelValue_IsTheNormalizedBlackPixel()
    {
        var data = FashionMnist.GetShared(FashionMnist.DefaultPath, 64, 16);

        Assert.Equal(Zero, (float)data.ZeroPixelValues[0]);
        Assert.Equal(data.Train.Images.min().item<float>(), (float)data.ZeroPixelValues[0]); // Fashion-MNIST has black pixels
        Assert.Equal(28, data.ImageSize);
    }
}
