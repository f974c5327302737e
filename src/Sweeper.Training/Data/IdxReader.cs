using System.Buffers.Binary;
using System.IO.Compression;

namespace Sweeper.Training.Data;

/// <summary>The images of an idx3 file: <see cref="Count"/> images of <see cref="Rows"/>×<see cref="Columns"/> bytes, row-major.</summary>
public sealed record IdxImages(int Count, int Rows, int Columns, byte[] Pixels)
{
    /// <summary>How many images the file's header declares (≥ <see cref="Count"/> when only the first were read).</summary>
    public int FileCount { get; init; } = Count;
}

/// <summary>
/// Reads the unsigned-byte idx files of MNIST-style data sets: labels (magic 0x00000801) and images
/// (magic 0x00000803). A file is gzip-compressed when it starts with the gzip magic 1f 8b, whatever its name.
/// Every malformed file is reported as an <see cref="InvalidDataException"/> that names the file.
/// </summary>
/// <remarks>
/// A header cannot make the reader allocate more than the file holds: the size an uncompressed file's header declares is
/// checked against the file's length before anything is read, and a compressed file is read into a buffer that grows
/// (doubling) only as decompressed data arrives.
/// </remarks>
public static class IdxReader
{
    public const int LabelsMagic = 0x00000801;
    public const int ImagesMagic = 0x00000803;

    /// <summary>Reads the labels of an idx1 file; with <paramref name="limit"/>, only the first that many.</summary>
    /// <exception cref="InvalidDataException">Bad magic, truncated file, or trailing bytes after the last label.</exception>
    public static byte[] ReadLabels(string path, int? limit = null) => NamingFile(path, () =>
    {
        using var stream = OpenDecompressed(path);
        var header = ReadHeader(stream, path, LabelsMagic, dimensions: 1);
        int count = header[0];
        CheckLength(stream, path, 8, count, $"{count} labels");
        int take = Take(count, limit, path);
        var labels = ReadExactly(stream, path, take, $"{count} labels");
        if (take == count) EnsureEnd(stream, path);
        return labels;
    });

    /// <summary>Reads the images of an idx3 file; with <paramref name="limit"/>, only the first that many.</summary>
    /// <exception cref="InvalidDataException">Bad magic, truncated file, or trailing bytes after the last image.</exception>
    public static IdxImages ReadImages(string path, int? limit = null) => NamingFile(path, () =>
    {
        using var stream = OpenDecompressed(path);
        var header = ReadHeader(stream, path, ImagesMagic, dimensions: 3);
        int count = header[0], rows = header[1], columns = header[2];
        if (rows == 0 || columns == 0)
            throw new InvalidDataException($"idx file '{path}' declares empty images ({rows}×{columns}).");
        CheckLength(stream, path, 16, (Int128)count * rows * columns, $"{count} images of {rows}×{columns} bytes");
        int take = Take(count, limit, path);
        long bytes = (long)take * rows * columns;
        if (bytes > Array.MaxLength)
            throw new InvalidDataException($"idx file '{path}' declares {take} images of {rows}×{columns}, more than one array can hold.");
        var pixels = ReadExactly(stream, path, (int)bytes, $"{count} images of {rows}×{columns} bytes");
        if (take == count) EnsureEnd(stream, path);
        return new IdxImages(take, rows, columns, pixels) { FileCount = count };
    });

    /// <summary>True when the file starts with the gzip magic bytes 1f 8b.</summary>
    public static bool IsGzip(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        return file.ReadAtLeast(magic, 2, throwOnEndOfStream: false) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    /// <summary>Makes sure a decompression error names the file too.</summary>
    private static T NamingFile<T>(string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (InvalidDataException e) when (!e.Message.Contains(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"idx file '{path}' is corrupt: {e.Message}", e);
        }
    }

    private static Stream OpenDecompressed(string path)
    {
        bool gzip = IsGzip(path);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    private static int[] ReadHeader(Stream stream, string path, int expectedMagic, int dimensions)
    {
        Span<byte> word = stackalloc byte[4];
        if (stream.ReadAtLeast(word, 4, throwOnEndOfStream: false) < 4)
            throw new InvalidDataException($"idx file '{path}' is truncated: it ends inside its header.");
        int magic = BinaryPrimitives.ReadInt32BigEndian(word);
        if (magic != expectedMagic)
            throw new InvalidDataException(
                $"idx file '{path}' has magic 0x{magic:X8}; expected 0x{expectedMagic:X8} ({(expectedMagic == LabelsMagic ? "labels" : "images")}).");
        var sizes = new int[dimensions];
        for (int i = 0; i < dimensions; i++)
        {
            if (stream.ReadAtLeast(word, 4, throwOnEndOfStream: false) < 4)
                throw new InvalidDataException($"idx file '{path}' is truncated: it ends inside its header.");
            sizes[i] = BinaryPrimitives.ReadInt32BigEndian(word);
            if (sizes[i] < 0)
                throw new InvalidDataException($"idx file '{path}' declares a negative size ({sizes[i]}) for dimension {i}.");
        }
        return sizes;
    }

    /// <summary>
    /// For an uncompressed file: its length must be the header's plus the <paramref name="dataBytes"/> the header
    /// declares. (A compressed file's length says nothing about its content; <see cref="ReadExactly"/> covers it.)
    /// </summary>
    private static void CheckLength(Stream stream, string path, int headerBytes, Int128 dataBytes, string declared)
    {
        if (stream is not FileStream file) return;
        long available = file.Length - headerBytes;
        if (dataBytes > available)
            throw new InvalidDataException(
                $"idx file '{path}' is truncated: its header declares {declared} ({dataBytes} bytes), but only {available} bytes follow the header.");
        if (dataBytes < available)
            throw new InvalidDataException(
                $"idx file '{path}' has more data than its header declares (count mismatch): {declared} take {dataBytes} bytes, but {available} bytes follow the header.");
    }

    private static int Take(int count, int? limit, string path)
    {
        if (limit is not { } n) return count;
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(limit), n, "A subset size cannot be negative.");
        if (n > count)
            throw new ArgumentOutOfRangeException(nameof(limit), n, $"'{path}' holds only {count} items; cannot take the first {n}.");
        return n;
    }

    /// <summary>
    /// Reads <paramref name="length"/> bytes into a buffer that starts at 1 MiB and doubles as data arrives, so a header
    /// that lies about its size costs at most twice what the stream really holds.
    /// </summary>
    private static byte[] ReadExactly(Stream stream, string path, int length, string declared)
    {
        var buffer = new byte[Math.Min(length, 1 << 20)];
        int read = 0;
        while (true)
        {
            read += stream.ReadAtLeast(buffer.AsSpan(read), buffer.Length - read, throwOnEndOfStream: false);
            if (read < buffer.Length || buffer.Length == length) break;
            Array.Resize(ref buffer, (int)Math.Min(length, 2L * buffer.Length));
        }
        if (read < length)
            throw new InvalidDataException(
                $"idx file '{path}' is truncated: its header declares {declared}, but the data ends after {read} of the {length} bytes needed.");
        return buffer;
    }

    private static void EnsureEnd(Stream stream, string path)
    {
        Span<byte> probe = stackalloc byte[1];
        if (stream.Read(probe) != 0)
            throw new InvalidDataException($"idx file '{path}' has more data than its header declares (count mismatch).");
    }
}
