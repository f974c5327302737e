using Sweeper.Core.Spec;
using Sweeper.Training.Data;
using TorchSharp;

namespace Sweeper.Training.Tests.Data;

public sealed class ValidationSplitTests
{
    private static bool Same(torch.Tensor a, torch.Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Theory]
    [InlineData(0.2, 1000, 200)]
    [InlineData(0.0005, 1000, 1)]  // a fraction rounds to at least one image
    [InlineData(300.0, 1000, 300)]
    public void CountFor_CountOrFraction_HoldsOutThatMany(double validation, int pool, int expected)
    {
        Assert.Equal(expected, ValidationSplit.CountFor(validation, pool));
    }

    [Theory]
    [InlineData(1000.0, 1000)] // nothing left to train on
    [InlineData(2.5, 1000)]     // neither a count nor a fraction
    [InlineData(0.0, 1000)]
    public void CountFor_Invalid_ThrowsNamingTheKey(double validation, int pool)
    {
        var ex = Assert.Throws<ArgumentException>(() => ValidationSplit.CountFor(validation, pool));
        Assert.Contains("trainable.dataset.validation", ex.Message);
    }

    [Fact]
    public void ValidationIndices_SameSeed_SameImages_OtherSeed_OtherImages()
    {
        var a = ValidationSplit.ValidationIndices(5000, 500, seed: 7);
        var b = ValidationSplit.ValidationIndices(5000, 500, seed: 7);
        var c = ValidationSplit.ValidationIndices(5000, 500, seed: 8);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(500, a.Distinct().Count());
        Assert.True(a.SequenceEqual(a.Order()), "indices are ascending");
        Assert.All(a, i => Assert.InRange(i, 0, 4999));
        // A uniform sample, not a prefix or a block: it reaches both ends of the pool.
        Assert.True(a.Min() < 500 && a.Max() > 4500, $"min {a.Min()}, max {a.Max()}");
    }

    [Fact]
    public void Split_FashionMnist_DisjointAndCoveringTheTrainingImages()
    {
        var data = FashionMnist.Load(FashionMnist.DefaultPath, trainSubset: 600, testSubset: 50);
        var split = ValidationSplit.Split(data, 150, seed: 11);

        Assert.Equal(450, split.Train.Count);
        Assert.Equal(150, split.Validation!.Count);
        Assert.Same(data.Test, split.Test);
        // Each held-out image is the pool's image at the chosen index; the training images are exactly the others, in order.
        var chosen = ValidationSplit.ValidationIndices(600, 150, 11);
        var rest = Enumerable.Range(0, 600).Except(chosen).ToArray();
        using var scope = torch.NewDisposeScope();
        Assert.True(Same(split.Validation.Images, data.Train.Images.index_select(0, torch.tensor(chosen.Select(i => (long)i).ToArray()))));
        Assert.True(Same(split.Train.Images, data.Train.Images.index_select(0, torch.tensor(rest.Select(i => (long)i).ToArray()))));
        Assert.True(Same(split.Train.Labels, data.Train.Labels.index_select(0, torch.tensor(rest.Select(i => (long)i).ToArray()))));
    }

    [Fact]
    public void DatasetFactory_Validation_SharedPerSeedAndHeldOutOfTraining()
    {
        var spec = new DatasetSpec { Path = FashionMnist.DefaultPath, TrainSubset = 400, TestSubset = 40, Validation = 0.25, SplitSeed = 5 };
        var a = DatasetFactory.GetShared(spec);
        var b = DatasetFactory.GetShared(spec);
        var other = DatasetFactory.GetShared(spec with { SplitSeed = 6 });

        Assert.Same(a, b);
        Assert.Equal(300, a.Train.Count);
        Assert.Equal(100, a.Validation!.Count);
        Assert.False(Same(a.Validation.Images, other.Validation!.Images));
        Assert.Null(DatasetFactory.GetShared(spec with { Validation = null }).Validation);
    }
}
