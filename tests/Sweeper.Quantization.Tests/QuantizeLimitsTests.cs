using Sweeper.Quantization.Service;

namespace Sweeper.Quantization.Tests;

/// <summary>Limits on what one quantize input may ask for: 64 MiB, 2^24 elements and 10,000 requests together.</summary>
public sealed class QuantizeLimitsTests
{
    private static string Request(long elements) =>
        $$"""{"method":"lsq","bits":4,"channel_axis":null,"shape":[{{elements}}],"input":[{{string.Join(',', Enumerable.Repeat("0", (int)elements))}}]}""";

    [Fact]
    public void Limits_AreTheDocumentedOnes()
    {
        Assert.Equal(64L << 20, QuantizeService.MaxInputBytes);
        Assert.Equal(1L << 24, QuantizeService.MaxTotalElements);
        Assert.Equal(10_000, QuantizeService.MaxRequests);
    }

    [Fact]
    public void Parse_ShapeOver2Pow24_RefusedBeforeTheInputIsRead()
    {
        var json = """{"method":"lsq","bits":4,"channel_axis":null,"shape":[4096,4097],"input":[]}""";

        var ex = Assert.Throws<QuantizeRequestException>(() => QuantizeService.Parse(json));

        Assert.Contains("more than 16777216 (2^24) elements", ex.Message);
    }

    [Fact]
    public void Parse_RequestsTogetherOver2Pow24_RefusedNamingTheRequest()
    {
        var half = (1L << 23) + 1;

        var ex = Assert.Throws<QuantizeRequestException>(() => QuantizeService.Parse($"[{Request(half)},{Request(half)}]"));

        Assert.StartsWith("Request 1:", ex.Message);
        Assert.Contains("at most 16777216 (2^24)", ex.Message);
    }

    [Fact]
    public void Parse_TooManyRequests_Refused()
    {
        var json = "[" + string.Join(',', Enumerable.Repeat(Request(1), QuantizeService.MaxRequests + 1)) + "]";

        var ex = Assert.Throws<QuantizeRequestException>(() => QuantizeService.Parse(json));

        Assert.Contains("at most 10000 are accepted at once", ex.Message);
    }

    [Fact]
    public void Parse_ManyRequestsWithinTheLimits_Accepted() =>
        Assert.Equal(100, QuantizeService.Parse("[" + string.Join(',', Enumerable.Repeat(Request(4), 100)) + "]").Count);
}
