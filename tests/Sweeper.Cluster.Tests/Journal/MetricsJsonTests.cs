using System.Text.Json;
using Sweeper.Cluster.Journal;
using Sweeper.Cluster.Serialization;

namespace Sweeper.Cluster.Tests.Journal;

public sealed class MetricsJsonTests
{
    public static TheoryData<double> Values() =>
    [
        0.0, -0.0, 1.0, -1.5, 0.1, 1.0 / 3, 0.8235, 1e-300, double.Epsilon, -double.Epsilon, 1e21, 123456789.125,
        double.MaxValue, double.MinValue, double.NaN, double.PositiveInfinity, double.NegativeInfinity,
    ];

    [Theory]
    [MemberData(nameof(Values))]
    public void Write_OneValue_TheSerializersBytes(double value)
    {
        var metrics = new Dictionary<string, double> { ["val_accuracy"] = value };

        Assert.Equal(JsonSerializer.Serialize(metrics, SweeperMessageSerializer.Options), new MetricsJson().WriteString(metrics));
    }

    [Fact]
    public void Write_KeysToEscapeEmptyAndReused_TheSerializersBytesEveryTime()
    {
        var writer = new MetricsJson();
        var many = Enumerable.Range(0, 300).ToDictionary(i => $"quant.layer.features.{i}.conv.exponent_mean", i => i * 0.37 - 20);
        var cases = new[]
        {
            new Dictionary<string, double> { ["a+b<c>&'\"\\ é ü 漢"] = 1, ["\t\n"] = 2 },
            new Dictionary<string, double>(),
            many,
            new Dictionary<string, double> { ["train_loss"] = double.NaN },
        };

        foreach (var metrics in cases.Concat(cases))
        {
            var written = writer.WriteString(metrics);
            Assert.Equal(JsonSerializer.Serialize(metrics, SweeperMessageSerializer.Options), written);
            Assert.Equal(metrics, JsonSerializer.Deserialize<Dictionary<string, double>>(written, SweeperMessageSerializer.Options));
        }
    }

    /// <summary>The coordinator's compact sets (<see cref="Sweeper.Core.Trials.MetricSet"/>) give the bytes of the dictionaries they were made from.</summary>
    [Fact]
    public void Write_MetricSet_TheDictionarysBytes()
    {
        var writer = new MetricsJson();
        var sets = new Sweeper.Core.Trials.MetricSets();
        var many = Enumerable.Range(0, 300).ToDictionary(i => $"quant.layer.features.{i}.conv.exponent_mean", i => i * 0.37 - 20);
        foreach (var metrics in new[] { new Dictionary<string, double> { ["val_accuracy"] = 0.8235, ["train_loss"] = double.NaN, ["é\t"] = -0.0 }, many, new Dictionary<string, double>() })
            Assert.Equal(JsonSerializer.Serialize(metrics, SweeperMessageSerializer.Options), writer.WriteString(sets.Compact(metrics)));
    }

    /// <summary>
    /// Sets of twelve name lists, with names to escape, written by turns three times: every time the serializer's bytes,
    /// whether the list's escaped names were made now or earlier.
    /// </summary>
    [Fact]
    public void Write_MetricSetsOfManyNameListsByTurns_TheSerializersBytesEveryTime()
    {
        var writer = new MetricsJson();
        var sets = new Sweeper.Core.Trials.MetricSets();
        var lists = Enumerable.Range(0, 12)
            .Select(k => Enumerable.Range(0, 1 + k % 4).ToDictionary(i => $"m{k}.{i} \"<é>\t", i => k + i * 0.125))
            .ToList();
        var order = Enumerable.Range(0, 3).SelectMany(round => round == 1 ? Enumerable.Range(0, 12).Reverse() : Enumerable.Range(0, 12)).Concat([0, 0, 11, 0]);
        foreach (var k in order)
        {
            var metrics = lists[k];
            var set = sets.Compact(metrics);
            Assert.IsType<Sweeper.Core.Trials.MetricSet>(set);
            Assert.Equal(JsonSerializer.Serialize(metrics, SweeperMessageSerializer.Options), writer.WriteString(set));
        }
    }

    /// <summary>A metrics map that is not a <see cref="Dictionary{TKey, TValue}"/> takes the interface's enumerator, with the same bytes.</summary>
    [Fact]
    public void Write_ReadOnlyDictionaryAndSortedDictionary_TheSerializersBytes()
    {
        var writer = new MetricsJson();
        var plain = new Dictionary<string, double> { ["val_accuracy"] = 0.8235, ["train_loss"] = double.PositiveInfinity, ["lr"] = 1e-3 };
        IReadOnlyDictionary<string, double>[] cases = [new System.Collections.ObjectModel.ReadOnlyDictionary<string, double>(plain), new SortedDictionary<string, double>(plain)];
        foreach (var metrics in cases)
            Assert.Equal(JsonSerializer.Serialize(metrics, SweeperMessageSerializer.Options), writer.WriteString(metrics));
    }
}
