using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Sweeper.Training.Data;

/// <summary>
/// The header of a NumPy <c>.npy</c> file: the element type (<see cref="Kind"/> <c>u</c>, <c>i</c>, <c>f</c> or
/// <c>b</c>, <see cref="ItemSize"/> bytes, little-endian), the <see cref="Shape"/> (C order), and where the data starts.
/// </summary>
public sealed record NpyHeader(string Path, string Descr, char Kind, int ItemSize, IReadOnlyList<long> Shape, long DataOffset)
{
    /// <summary>The number of elements: the product of <see cref="Shape"/>.</summary>
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape as NumPy prints it, e.g. <c>(60000, 28, 28)</c>.</summary>
    public string ShapeText => Shape.Count == 1 ? $"({Shape[0]},)" : $"({string.Join(", ", Shape)})";
}

/// <summary>
/// Reads NumPy <c>.npy</c> files (format versions 1.0, 2.0 and 3.0): little-endian (or single-byte) numeric arrays in C
/// order. Every malformed file is reported as an <see cref="InvalidDataException"/> that names the file.
/// </summary>
/// <remarks>
/// <see cref="ReadHeader"/> checks that the file holds exactly the bytes its header declares before anything else is
/// read, so a header claiming billions of elements fails at once instead of allocating them.
/// </remarks>
public static class NpyReader
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Headers longer than this are refused (NumPy's own are a few hundred bytes).</summary>
    public const int MaxHeaderLength = 1 << 20;

    /// <summary>Reads and checks the header of <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">
    /// Not an npy file, an unknown version, a header that does not parse, big-endian or structured data, Fortran order,
    /// or a data length that differs from what the shape and type declare.
    /// </exception>
    public static NpyHeader ReadHeader(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 4096);
        Span<byte> prefix = stackalloc byte[12];
        int got = file.ReadAtLeast(prefix, 10, throwOnEndOfStream: false);
        if (got < 10 || !prefix[..6].SequenceEqual(Magic))
            throw Bad(path, "it does not start with the npy magic \\x93NUMPY (is it a .npy file? .npz archives are not supported)");
        int major = prefix[6], minor = prefix[7];
        long headerLength;
        int prefixLength;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..]);
            prefixLength = 10;
        }
        else if (major is 2 or 3)
        {
            if (got < 12) throw Bad(path, "it ends inside its header");
            headerLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix[8..]);
            prefixLength = 12;
        }
        else
        {
            throw Bad(path, $"format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are)");
        }
        if (headerLength > MaxHeaderLength) throw Bad(path, $"its header claims {headerLength} bytes (at most {MaxHeaderLength} are accepted)");
        if (prefixLength + headerLength > file.Length) throw Bad(path, "it ends inside its header (truncated)");

        var headerBytes = new byte[headerLength];
        file.Position = prefixLength;
        file.ReadExactly(headerBytes);
        var text = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
        var dict = HeaderParser.Parse(text, message => Bad(path, $"its header {message}: {text.Trim()}"));

        if (!dict.TryGetValue("descr", out var descrValue)) throw Bad(path, "its header has no 'descr'");
        if (descrValue is not string descr)
            throw Bad(path, $"it holds a structured array (descr {HeaderParser.Show(descrValue)}); only plain numeric arrays are supported");
        if (!dict.TryGetValue("fortran_order", out var fortranValue) || fortranValue is not bool fortran)
            throw Bad(path, "its header has no boolean 'fortran_order'");
        if (fortran)
            throw Bad(path, "it is stored in Fortran (column-major) order; save it in C order (numpy: np.save(path, np.ascontiguousarray(a)))");
        if (!dict.TryGetValue("shape", out var shapeValue) || shapeValue is not long[] shape)
            throw Bad(path, "its header has no 'shape' tuple");
        if (shape.Any(d => d < 0)) throw Bad(path, $"its shape {HeaderParser.Show(shape)} has a negative dimension");

        var (kind, itemSize) = ParseDescr(path, descr);
        var header = new NpyHeader(path, descr, kind, itemSize, shape, prefixLength + headerLength);

        Int128 declared = itemSize;
        foreach (var d in shape) declared = declared > file.Length ? declared : declared * d; // stop growing once too big
        long available = file.Length - header.DataOffset;
        if (declared > available)
            throw Bad(path, $"it is truncated: shape {header.ShapeText} of '{descr}' needs {declared} bytes after the header, but only {available} follow");
        if (declared < available)
            throw Bad(path, $"it holds {available} bytes after the header, but shape {header.ShapeText} of '{descr}' needs {declared} (count mismatch)");
        return header;
    }

    /// <summary>The first <paramref name="elements"/> elements of an array of <c>u1</c> (unsigned bytes).</summary>
    public static byte[] ReadBytes(NpyHeader header, long elements)
    {
        Expect(header, header.Kind == 'u' && header.ItemSize == 1, "unsigned bytes");
        var data = new byte[CheckedCount(header, elements)];
        using var file = Open(header);
        file.ReadExactly(data);
        return data;
    }

    /// <summary>The first <paramref name="elements"/> elements of an array of <c>f4</c> or <c>f8</c>, as float32.</summary>
    public static float[] ReadFloats(NpyHeader header, long elements)
    {
        Expect(header, header.Kind == 'f' && header.ItemSize is 4 or 8, "floats (f4 or f8)");
        var data = new float[CheckedCount(header, elements)];
        if (header.ItemSize == 4)
        {
            // Straight into the floats, a chunk at a time (a byte span of more than 2 GiB cannot exist).
            using var file = Open(header);
            for (int done = 0; done < data.Length;)
            {
                int n = Math.Min(1 << 22, data.Length - done);
                var bytes = MemoryMarshal.AsBytes(data.AsSpan(done, n));
                file.ReadExactly(bytes);
                if (!BitConverter.IsLittleEndian)
                {
                    var words = MemoryMarshal.Cast<byte, int>(bytes);
                    for (int i = 0; i < words.Length; i++) words[i] = BinaryPrimitives.ReverseEndianness(words[i]);
                }
                done += n;
            }
        }
        else
        {
            ReadChunks(header, data.Length, (chunk, offset) =>
            {
                for (int i = 0; i < chunk.Length / 8; i++) data[offset + i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(chunk[(8 * i)..]);
            });
        }
        return data;
    }

    /// <summary>Every element of an integer array (<c>i1</c>, <c>u1</c>, <c>i2</c>, <c>u2</c>, <c>i4</c>, <c>u4</c>, <c>i8</c>, <c>u8</c>) as longs.</summary>
    /// <exception cref="InvalidDataException">Not integers, or a <c>u8</c> value above <see cref="long.MaxValue"/>.</exception>
    public static long[] ReadIntegers(NpyHeader header)
    {
        Expect(header, header.Kind is 'i' or 'u' && header.ItemSize is 1 or 2 or 4 or 8, "integers");
        var data = new long[CheckedCount(header, header.Elements)];
        int size = header.ItemSize;
        bool signed = header.Kind == 'i';
        ReadChunks(header, data.Length, (chunk, offset) =>
        {
            for (int i = 0; i < chunk.Length / size; i++)
            {
                var b = chunk.Slice(size * i, size);
                data[offset + i] = (size, signed) switch
                {
                    (1, true) => (sbyte)b[0],
                    (1, false) => b[0],
                    (2, true) => BinaryPrimitives.ReadInt16LittleEndian(b),
                    (2, false) => BinaryPrimitives.ReadUInt16LittleEndian(b),
                    (4, true) => BinaryPrimitives.ReadInt32LittleEndian(b),
                    (4, false) => BinaryPrimitives.ReadUInt32LittleEndian(b),
                    (8, true) => BinaryPrimitives.ReadInt64LittleEndian(b),
                    _ => BinaryPrimitives.ReadUInt64LittleEndian(b) is var u && u <= long.MaxValue
                        ? (long)u
                        : throw Bad(header.Path, $"it holds {BinaryPrimitives.ReadUInt64LittleEndian(b)} at index {offset + i}, too large for a label"),
                };
            }
        });
        return data;
    }

    private static (char Kind, int ItemSize) ParseDescr(string path, string descr)
    {
        if (descr.Length < 3 || descr[0] is not ('<' or '>' or '|' or '=') || !int.TryParse(descr.AsSpan(2), out int size))
            throw Bad(path, $"its dtype '{descr}' is not a plain numeric type (e.g. '<f4', '|u1', '<i8')");
        char kind = descr[1];
        if (kind is not ('u' or 'i' or 'f' or 'b') || size is not (1 or 2 or 4 or 8))
            throw Bad(path, $"its dtype '{descr}' is not supported (unsigned/signed integers of 1-8 bytes and floats f4/f8 are)");
        if (descr[0] == '>' && size > 1)
            throw Bad(path, $"its dtype '{descr}' is big-endian; save it little-endian (numpy: a.astype('<{kind}{size}'))");
        return (kind, size);
    }

    private static void Expect(NpyHeader header, bool ok, string what)
    {
        if (!ok) throw Bad(header.Path, $"it holds '{header.Descr}', but {what} are needed here");
    }

    private static int CheckedCount(NpyHeader header, long elements)
    {
        if (elements < 0 || elements > header.Elements) throw new ArgumentOutOfRangeException(nameof(elements), elements, $"'{header.Path}' holds {header.Elements} elements.");
        if (elements > Array.MaxLength) throw Bad(header.Path, $"{elements} elements are more than one array can hold");
        return (int)elements;
    }

    private delegate void SpanAction(Span<byte> chunk, int firstElement);

    /// <summary>Reads <paramref name="elements"/> elements in chunks of 1 MiB, handing each to <paramref name="convert"/>.</summary>
    private static void ReadChunks(NpyHeader header, int elements, SpanAction convert)
    {
        using var file = Open(header);
        int size = header.ItemSize;
        var buffer = new byte[Math.Max(size, (1 << 20) / size * size)];
        for (long done = 0; done < elements;)
        {
            int n = (int)Math.Min(buffer.Length / size, elements - done);
            file.ReadExactly(buffer, 0, n * size);
            convert(buffer.AsSpan(0, n * size), (int)done);
            done += n;
        }
    }

    private static FileStream Open(NpyHeader header)
    {
        var file = new FileStream(header.Path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        file.Position = header.DataOffset;
        return file;
    }

    private static InvalidDataException Bad(string path, string what) => new($"npy file '{path}' is not readable: {what}.");

    /// <summary>A parser for the Python dict literal of an npy header: strings, booleans, integers, tuples and lists.</summary>
    private sealed class HeaderParser
    {
        private readonly string text;
        private readonly Func<string, Exception> error;
        private int at;

        private HeaderParser(string text, Func<string, Exception> error)
        {
            this.text = text;
            this.error = error;
        }

        public static Dictionary<string, object> Parse(string text, Func<string, Exception> error)
        {
            var parser = new HeaderParser(text, error);
            var value = parser.Value();
            parser.SkipSpace();
            if (parser.at != text.Length) throw error($"has text after its dictionary at position {parser.at}");
            return value as Dictionary<string, object> ?? throw error("is not a dictionary");
        }

        public static string Show(object value) => value switch
        {
            string s => $"'{s}'",
            bool b => b ? "True" : "False",
            long[] shape => shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})",
            List<object> list => $"[{string.Join(", ", list.Select(Show))}]",
            object[] tuple => $"({string.Join(", ", tuple.Select(Show))})",
            _ => value.ToString() ?? "",
        };

        private object Value()
        {
            SkipSpace();
            if (at >= text.Length) throw error("ends early");
            char c = text[at];
            if (c == '{') return Dict();
            if (c is '\'' or '"') return Str();
            if (c is '(' or '[') return Sequence();
            if (char.IsDigit(c) || c == '-') return Integer();
            if (Word("True")) return true;
            if (Word("False")) return false;
            if (Word("None")) return "None";
            throw error($"has an unexpected '{c}' at position {at}");
        }

        private Dictionary<string, object> Dict()
        {
            at++; // {
            var dict = new Dictionary<string, object>(StringComparer.Ordinal);
            while (true)
            {
                SkipSpace();
                if (Take('}')) return dict;
                if (Value() is not string key) throw error("has a key that is not a string");
                SkipSpace();
                if (!Take(':')) throw error($"misses ':' after '{key}'");
                dict[key] = Value();
                SkipSpace();
                if (Take('}')) return dict;
                if (!Take(',')) throw error($"misses ',' after the value of '{key}'");
            }
        }

        /// <summary>A tuple of integers becomes long[] (a shape); any other tuple object[], a list List&lt;object&gt;.</summary>
        private object Sequence()
        {
            char close = text[at] == '(' ? ')' : ']';
            at++;
            var items = new List<object>();
            while (true)
            {
                SkipSpace();
                if (Take(close)) break;
                items.Add(Value());
                SkipSpace();
                if (Take(close)) break;
                if (!Take(',')) throw error($"misses ',' or '{close}' at position {at}");
            }
            if (close == ']') return items;
            return items.All(i => i is long) ? items.Cast<long>().ToArray() : items.ToArray();
        }

        private string Str()
        {
            char quote = text[at++];
            int start = at;
            while (at < text.Length && text[at] != quote) at++;
            if (at >= text.Length) throw error("has an unterminated string");
            return text[start..at++];
        }

        private long Integer()
        {
            int start = at;
            if (text[at] == '-') at++;
            while (at < text.Length && char.IsDigit(text[at])) at++;
            if (!long.TryParse(text.AsSpan(start, at - start), out long value)) throw error($"has a bad number '{text[start..at]}'");
            if (at < text.Length && text[at] is 'L' or 'l') at++; // Python 2's long suffix
            return value;
        }

        private bool Word(string word)
        {
            if (string.CompareOrdinal(text, at, word, 0, word.Length) != 0) return false;
            at += word.Length;
            return true;
        }

        private bool Take(char c)
        {
            if (at < text.Length && text[at] == c)
            {
                at++;
                return true;
            }
            return false;
        }

        private void SkipSpace()
        {
            while (at < text.Length && char.IsWhiteSpace(text[at])) at++;
        }
    }
}
