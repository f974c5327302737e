using System.Buffers.Binary;
using System.Text;

namespace Sweeper.Training.Tests.Data;

/// <summary>Writes small CIFAR batches and npy files for tests.</summary>
internal static class DataFiles
{
    /// <summary>CIFAR-10 records: a label byte then 3072 pixel bytes (R, G, B planes of 32×32), pixel(record, index).</summary>
    public static byte[] Cifar10(byte[] labels, Func<int, int, byte> pixel) =>
        labels.SelectMany((label, r) => new[] { label }.Concat(Enumerable.Range(0, 3072).Select(i => pixel(r, i)))).ToArray();

    /// <summary>CIFAR-100 records: coarse and fine label bytes then 3072 pixel bytes.</summary>
    public static byte[] Cifar100((byte Coarse, byte Fine)[] labels, Func<int, int, byte> pixel) =>
        labels.SelectMany((l, r) => new[] { l.Coarse, l.Fine }.Concat(Enumerable.Range(0, 3072).Select(i => pixel(r, i)))).ToArray();

    /// <summary>An npy file (format <paramref name="major"/>.0) with the given dtype, shape and raw little-endian data.</summary>
    public static byte[] Npy(string descr, long[] shape, byte[] data, bool fortran = false, int major = 1)
    {
        var shapeText = shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        var dict = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shapeText}, }}";
        return NpyWithHeader(dict, data, major);
    }

    /// <summary>An npy file with a header dictionary text of the caller's choosing (padded with spaces and a newline as NumPy does).</summary>
    public static byte[] NpyWithHeader(string dict, byte[] data, int major = 1)
    {
        int prefix = major == 1 ? 10 : 12;
        int length = dict.Length + 1;
        int padded = (prefix + length + 63) / 64 * 64 - prefix;
        var header = Encoding.ASCII.GetBytes(dict.PadRight(padded - 1) + "\n");
        var bytes = new byte[prefix + header.Length + data.Length];
        bytes[0] = 0x93;
        Encoding.ASCII.GetBytes("NUMPY").CopyTo(bytes, 1);
        bytes[6] = (byte)major;
        bytes[7] = 0;
        if (major == 1) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)header.Length);
        header.CopyTo(bytes, prefix);
        data.CopyTo(bytes, prefix + header.Length);
        return bytes;
    }

    public static byte[] Floats(IEnumerable<float> values)
    {
        var list = values.ToArray();
        var bytes = new byte[list.Length * 4];
        for (int i = 0; i < list.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), list[i]);
        return bytes;
    }

    public static byte[] Doubles(IEnumerable<double> values)
    {
        var list = values.ToArray();
        var bytes = new byte[list.Length * 8];
        for (int i = 0; i < list.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), list[i]);
        return bytes;
    }

    public static byte[] Int64s(params long[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 * i), values[i]);
        return bytes;
    }

    /// <summary>Population mean and std of values, in double.</summary>
    public static (double Mean, double Std) Stats(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        return (mean, Math.Sqrt(v.Select(x => (x - mean) * (x - mean)).Average()));
    }
}
