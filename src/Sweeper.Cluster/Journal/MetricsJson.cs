using System.Buffers;
using System.Text;
using System.Text.Json;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Journal;

/// <summary>
/// An epoch's metrics as the journal keeps them: the bytes <c>JsonSerializer.Serialize(metrics,
/// SweeperMessageSerializer.Options)</c> writes (named literals for NaN and ±∞, the default encoder), written straight to a
/// reused buffer — the journal writes one such object per epoch of every trial, the serializer's path allocated and
/// looked up converters for each.
/// </summary>
/// <remarks>Not thread-safe: one per journal, used by the thread that writes it.</remarks>
internal sealed class MetricsJson
{
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _writer;

    /// <summary>The escaped names of each name list of <see cref="MetricSet"/>s written (by the list's identity; gone with the list).</summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<IReadOnlyList<string>, JsonEncodedText[]> _encodedNames = new();

    // Validation off: the writer only ever writes one flat object of names and numbers (or the three named literals).
    public MetricsJson() => _writer = new Utf8JsonWriter(_buffer, new JsonWriterOptions { SkipValidation = true });

    /// <summary>The metrics' JSON text in UTF-8, valid until the next call.</summary>
    public ReadOnlySpan<byte> Write(IReadOnlyDictionary<string, double> metrics)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        if (metrics is MetricSet set)
        {
            // Names escaped once per name list, not once per epoch (JsonEncodedText escapes as WritePropertyName does).
            var names = _encodedNames.GetValue(set.Names, static list => list.Select(name => JsonEncodedText.Encode(name)).ToArray());
            int i = 0;
            foreach (var (_, value) in set) Property(names[i++], value); // the struct enumerator: nothing boxed per epoch
        }
        else if (metrics is Dictionary<string, double> dictionary)
        {
            foreach (var (key, value) in dictionary) Property(key, value);
        }
        else
        {
            foreach (var (key, value) in metrics) Property(key, value);
        }
        _writer.WriteEndObject();
        _writer.Flush();
        return _buffer.WrittenSpan;
    }

    /// <summary>The metrics' JSON text as a string.</summary>
    public string WriteString(IReadOnlyDictionary<string, double> metrics) => Encoding.UTF8.GetString(Write(metrics));

    private void Property(string key, double value)
    {
        _writer.WritePropertyName(key);
        Value(value);
    }

    private void Property(JsonEncodedText key, double value)
    {
        _writer.WritePropertyName(key);
        Value(value);
    }

    private void Value(double value)
    {
        if (double.IsFinite(value)) _writer.WriteNumberValue(value);
        else _writer.WriteStringValue(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
    }
}
