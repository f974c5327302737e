using System.Buffers;
using System.Text;
using System.Text.Json;

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

    public MetricsJson() => _writer = new Utf8JsonWriter(_buffer);

    public string Write(IReadOnlyDictionary<string, double> metrics)
    {
        _buffer.ResetWrittenCount();
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        foreach (var (key, value) in metrics)
        {
            _writer.WritePropertyName(key);
            if (double.IsFinite(value)) _writer.WriteNumberValue(value);
            else _writer.WriteStringValue(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
        }
        _writer.WriteEndObject();
        _writer.Flush();
        return Encoding.UTF8.GetString(_buffer.WrittenSpan);
    }
}
