using Sweeper.Training.Data;

namespace Sweeper.Training.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    private string Write(string name, byte[] bytes)
    {
        var path = dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData(false, "labels-idx1-ubyte")]
    [InlineData(true, "labels-idx1-ubyte.gz")]
    [InlineData(true, "labels-idx1-ubyte")]     // gzip without the .gz name
    [InlineData(false, "labels-idx1-ubyte.gz")] // raw despite the .gz name
    public void ReadLabels_RawOrGzip_DetectsByMagicAndReturnsLabels(bool gzip, string name)
    {
        var bytes = IdxFiles.Labels(3, 1, 4, 1, 5, 9);
        var path = Write(name, gzip ? IdxFiles.Gzip(bytes) : bytes);

        Assert.Equal(gzip, IdxReader.IsGzip(path));
        Assert.Equal(new byte[] { 3, 1, 4, 1, 5, 9 }, IdxReader.ReadLabels(path));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadImages_RawOrGzip_ReturnsShapeAndPixels(bool gzip)
    {
        var bytes = IdxFiles.Images(count: 3, rows: 2, columns: 4);
        var path = Write("images", gzip ? IdxFiles.Gzip(bytes) : bytes);

        var images = IdxReader.ReadImages(path);

        Assert.Equal((3, 2, 4), (images.Count, images.Rows, images.Columns));
        Assert.Equal(Enumerable.Range(0, 24).Select(i => (byte)i), images.Pixels);
    }

    [Fact]
    public void ReadImages_Limit_ReturnsFirstImagesOnly()
    {
        var path = Write("images.gz", IdxFiles.Gzip(IdxFiles.Images(count: 5, rows: 2, columns: 2)));

        var images = IdxReader.ReadImages(path, limit: 2);

        Assert.Equal(2, images.Count);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (byte)i), images.Pixels);
    }

    [Fact]
    public void ReadLabels_LimitAboveCount_ThrowsArgumentOutOfRange()
    {
        var path = Write("labels", IdxFiles.Labels(1, 2, 3));

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => IdxReader.ReadLabels(path, limit: 4));
        Assert.Contains("only 3", e.Message);
    }

    [Fact]
    public void ReadLabels_ImagesMagic_ThrowsInvalidDataNamingFile()
    {
        var path = Write("wrong", IdxFiles.Images(count: 1, rows: 1, columns: 1));

        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("0x00000803", e.Message);
        Assert.Contains("0x00000801", e.Message);
    }

    [Fact]
    public void ReadImages_BadMagic_ThrowsInvalidDataNamingFile()
    {
        var path = Write("bad.gz", IdxFiles.Gzip(IdxFiles.Concat(IdxFiles.Header(0x12345678, 1, 1, 1), [0])));

        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("0x12345678", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadImages_TruncatedData_ThrowsInvalidDataNamingFile(bool gzip)
    {
        var full = IdxFiles.Images(count: 4, rows: 3, columns: 3);
        var cut = full[..^5];
        var path = Write("cut", gzip ? IdxFiles.Gzip(cut) : cut);

        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void ReadLabels_TruncatedHeader_ThrowsInvalidDataNamingFile()
    {
        var path = Write("short", [0, 0, 8, 1, 0, 0]);

        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("header", e.Message);
    }

    [Fact]
    public void ReadLabels_TruncatedGzipStream_ThrowsInvalidDataNamingFile()
    {
        var gz = IdxFiles.Gzip(IdxFiles.Labels(Enumerable.Range(0, 200).Select(i => (byte)(i % 10)).ToArray()));
        var path = Write("cut.gz", gz[..(gz.Length / 2)]);

        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void ReadLabels_MoreDataThanDeclared_ThrowsCountMismatch()
    {
        var path = Write("long", IdxFiles.Concat(IdxFiles.Labels(1, 2), [7]));

        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("count mismatch", e.Message);
    }

    [Fact]
    public void ReadLabels_GzipMagicThenGarbage_ThrowsInvalidDataNamingFile()
    {
        var path = Write("garbage.gz", [0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);

        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(path));
        Assert.Contains(path, e.Message);
    }
}

public sealed class IdxReaderHostileTests : IDisposable
{
    private readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadImages_HeaderClaimsBillionsOfPixels_ThrowsTruncatedWithoutAllocatingThem(bool gzip)
    {
        // 2·10^9 images of 1×1 (just under one array's limit): 2 GB if believed.
        var bytes = IdxFiles.Concat(IdxFiles.Header(0x00000803, 2_000_000_000, 1, 1), new byte[100]);
        var path = dir.File("hostile");
        File.WriteAllBytes(path, gzip ? IdxFiles.Gzip(bytes) : bytes);
        long before = GC.GetAllocatedBytesForCurrentThread();

        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "no large allocation");
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void ReadLabels_HeaderClaims2Pow31Minus1Labels_ThrowsTruncatedBeforeReading()
    {
        var path = dir.File("hostile-labels");
        File.WriteAllBytes(path, IdxFiles.Concat(IdxFiles.Header(0x00000801, int.MaxValue), [1, 2, 3]));
        long before = GC.GetAllocatedBytesForCurrentThread();

        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(path, limit: 2));

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "no large allocation");
        Assert.Contains("2147483647 labels", e.Message);
        Assert.Contains("only 3 bytes follow", e.Message);
    }
}
