using Sweeper.Core.Trials;

namespace Sweeper.Core.Tests.Trials;

public sealed class MetricSetTests
{
    private static Dictionary<string, double> Metrics(params (string Key, double Value)[] entries) => entries.ToDictionary(e => e.Key, e => e.Value);

    [Fact]
    public void Compact_SameEntriesInTheSameOrder_LookupsAndEnumeration()
    {
        var source = Metrics(("train_loss", 0.5), ("val_accuracy", 0.75), ("lr", double.NaN), ("test_accuracy", -0.0));
        var set = new MetricSets().Compact(source);

        Assert.IsType<MetricSet>(set);
        Assert.Equal(source.ToList(), set.ToList()); // the source's order, NaN and −0 kept
        Assert.Equal(4, set.Count);
        Assert.Equal(source.Keys, set.Keys);
        Assert.Equal(source.Values, set.Values);
        Assert.Equal(0.75, set["val_accuracy"]);
        Assert.True(set.TryGetValue(new string("train_loss".ToCharArray()), out var loss)); // another instance of the name
        Assert.Equal(0.5, loss);
        Assert.True(double.IsNegative(set["test_accuracy"]));
        Assert.False(set.TryGetValue("val_loss", out _));
        Assert.False(set.ContainsKey("val_loss"));
        Assert.True(set.ContainsKey("lr"));
        Assert.Throws<KeyNotFoundException>(() => set["val_loss"]);
        var pairs = new List<KeyValuePair<string, double>>();
        foreach (var pair in (MetricSet)set) pairs.Add(pair);
        Assert.Equal(source.ToList(), pairs);
    }

    [Fact]
    public void Compact_SetsShareNamesOnlyWithTheSameNamesInTheSameOrder()
    {
        var sets = new MetricSets();
        var first = (MetricSet)sets.Compact(Metrics(("a", 1), ("b", 2)));
        var second = (MetricSet)sets.Compact(Metrics(("a", 3), ("b", 4)));
        var swapped = (MetricSet)sets.Compact(Metrics(("b", 5), ("a", 6)));
        var fewer = (MetricSet)sets.Compact(Metrics(("a", 7)));
        var renamed = (MetricSet)sets.Compact(Metrics(("a", 8), ("c", 9)));

        Assert.Same(first.Keys, second.Keys);
        Assert.NotSame(first.Keys, swapped.Keys);
        Assert.Equal(["b", "a"], swapped.Keys);
        Assert.Equal(6, swapped["a"]);
        Assert.Equal([new KeyValuePair<string, double>("a", 7)], fewer.ToList());
        Assert.Equal(9, renamed["c"]);
        Assert.False(renamed.ContainsKey("b"));
        Assert.Equal(2, first["b"]); // earlier sets keep their values
        Assert.Same(second, sets.Compact(second));
    }

    [Fact]
    public void Compact_ManyNamesEmptyAndOtherDictionaries()
    {
        var sets = new MetricSets();
        var many = Enumerable.Range(0, 300).ToDictionary(i => $"quant.layer.{i}.exponent_mean", i => i * 0.5);
        var set = sets.Compact(many);
        Assert.Equal(many.ToList(), set.ToList());
        Assert.Equal(149.5, set["quant.layer.299.exponent_mean"]);
        Assert.False(set.ContainsKey("quant.layer.300.exponent_mean"));

        Assert.Empty(sets.Compact(new Dictionary<string, double>()));
        var sorted = new SortedDictionary<string, double>(StringComparer.Ordinal) { ["z"] = 1, ["a"] = 2 };
        Assert.Equal(sorted.ToList(), sets.Compact(sorted).ToList());
    }

    [Fact]
    public void Compact_MoreShapesThanKept_EachStillRight()
    {
        var sets = new MetricSets();
        for (int round = 0; round < 2; round++)
            for (int shape = 0; shape < 40; shape++)
            {
                var source = Enumerable.Range(0, 1 + shape % 5).ToDictionary(i => $"m{shape}.{i}", i => shape * 10.0 + i + round);
                Assert.Equal(source.ToList(), sets.Compact(source).ToList());
            }
    }
}
