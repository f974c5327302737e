using System.Buffers.Binary;
using System.IO.Compression;

namespace Sweeper.Training.Tests.Data;

/// <summary>Writes small idx files for tests.</summary>
internal static class IdxFiles
{
    public static byte[] Labels(params byte[] labels) => Concat(Header(0x00000801, labels.Length), labels);

    public static byte[] Images(int count, int rows, int columns, Func<int, byte>? pixel = null)
    {
        var pixels = new byte[count * rows * columns];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = pixel?.Invoke(i) ?? (byte)(i % 251);
        return Concat(Header(0x00000803, count, rows, columns), pixels);
    }

    public static byte[] Header(int magic, params int[] sizes)
    {
        var header = new byte[4 * (1 + sizes.Length)];
        BinaryPrimitives.WriteInt32BigEndian(header, magic);
        for (int i = 0; i < sizes.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 * (i + 1)), sizes[i]);
        return header;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(data);
        return output.ToArray();
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
