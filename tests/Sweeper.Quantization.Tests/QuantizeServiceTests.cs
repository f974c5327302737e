using System.Text.Json.Nodes;
using Sweeper.Quantization.Service;

namespace Sweeper.Quantization.Tests;

public sealed class QuantizeServiceTests
{
    private const string MinimalMsqe = """{"method":"msqe_po2","bits":4,"channel_axis":null,"shape":[2,2],"input":[0.1,-0.2,0.3,-0.4]}""";

    [Fact]
    public void Run_AllGoldenCasesWithoutExpected_MatchesEveryExpected()
    {
        var cases = GoldenFile.Cases;
        var requests = new JsonArray();
        foreach (var c in cases)
        {
            var copy = JsonNode.Parse(c.ToJsonString())!.AsObject();
            copy.Remove("expected");
            requests.Add(copy);
        }

        var response = JsonNode.Parse(QuantizeService.Run(requests.ToJsonString()))!.AsArray();

        Assert.Equal(cases.Count, response.Count);
        for (var i = 0; i < cases.Count; i++)
        {
            var actual = response[i]!.AsObject();
            Assert.Equal((string)cases[i]["name"]!, (string)actual["name"]!);
            GoldenAssert.Matches(cases[i], actual);
        }
    }

    [Fact]
    public void Run_SingleObject_ReturnsSingleObjectWithDefaults()
    {
        var response = JsonNode.Parse(QuantizeService.Run(MinimalMsqe))!.AsObject();

        Assert.False(response.ContainsKey("name"));
        Assert.Equal([-4L], GoldenFile.Longs(response["exponents"]));
        Assert.Equal(4, response["codes"]!.AsArray().Count);
        Assert.True(response.ContainsKey("weighted_msqe"));
        Assert.Equal(4, response["intermediate"]!["outlier_mask"]!.AsArray().Count); // default outlier_sigma 2.0
    }

    [Fact]
    public void Run_Lsq_ReturnsStepCodesAndGradientScale()
    {
        var json = """{"name":"l","method":"lsq","bits":3,"channel_axis":0,"shape":[2,3],"input":[0.5,-1.0,2.0,0.1,0.2,-0.3],"options":{"step":[0.5,0.1]}}""";

        var response = JsonNode.Parse(QuantizeService.Run(json))!.AsObject();

        Assert.Equal([0.5, (double)0.1f], GoldenFile.Doubles(response["step"]));
        Assert.Equal([1L, -2, 3, 1, 2, -3], GoldenFile.Longs(response["codes"]));
        Assert.False(response.ContainsKey("exponents"));
        Assert.False(response.ContainsKey("weighted_msqe"));
        Assert.Equal(1 / Math.Sqrt(3 * 3), response["intermediate"]!["gradient_scale"]!.GetValue<double>(), 12);
    }

    [Theory]
    [InlineData("{\"method\": \"msqe_po2\",\n  \"bits\": 4,,}", "Malformed JSON at line 2, position")]
    [InlineData("[1, 2", "Malformed JSON at line 1")]
    [InlineData("42", "Expected a request object or an array of request objects, got the number 42")]
    [InlineData("[{\"name\":\"a\",\"method\":\"msqe_po2\",\"bits\":4,\"channel_axis\":null,\"shape\":[1],\"input\":[1]}, 7]", "Request 1: expected a JSON object, got the number 7")]
    public void Run_MalformedDocument_Throws(string json, string expected)
    {
        var ex = Assert.Throws<QuantizeRequestException>(() => QuantizeService.Run(json));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Run_MalformedJson_ReportsOneBasedLineAndPosition()
    {
        var ex = Assert.Throws<QuantizeRequestException>(() => QuantizeService.Run("{\n  \"bits\": 4\n  \"method\": 1}"));

        Assert.Equal(3, ex.Line);
        Assert.Equal(3, ex.Position);
        Assert.StartsWith("Malformed JSON at line 3, position 3: ", ex.Message);
        Assert.Null(ex.RequestIndex);
    }

    [Theory]
    [InlineData("\"method\":\"po2_magic\"", "Request 1 ('bad'): unknown method 'po2_magic'; valid methods: legacy_auto_po2, msqe_po2, learnable_po2, lsq.")]
    [InlineData("\"options\":{\"lls_iter\":3}", "Request 1 ('bad'): unknown option 'lls_iter' for method 'msqe_po2'; valid options: init_exponent, lls_iters, line_search, line_search_range, outlier_sigma, weights.")]
    [InlineData("\"shape\":[3,2]", "Request 1 ('bad'): shape [3, 2] has 6 elements but input has 4 values.")]
    [InlineData("\"bits\":9", "Request 1 ('bad'): bits 9 is out of range; valid bits: 2..8.")]
    [InlineData("\"bits\":1", "Request 1 ('bad'): bits 1 is out of range; valid bits: 2..8.")]
    [InlineData("\"channel_axis\":2", "Request 1 ('bad'): channel_axis 2 is out of range for shape [2, 2] (rank 2); use null (per-tensor) or an axis in 0..1.")]
    [InlineData("\"channel_axis\":-1", "Request 1 ('bad'): channel_axis -1 is out of range")]
    [InlineData("\"colour\":\"red\"", "Request 1 ('bad'): unknown field 'colour'; valid fields: method, bits, channel_axis, shape, input, options, name,")]
    [InlineData("\"per_channel\":true", "Request 1 ('bad'): per_channel is true but channel_axis is null.")]
    [InlineData("\"options\":{\"init_exponent\":[1,2,3]}", "Request 1 ('bad'): options.init_exponent must be an integer or an array of 1 or 1 integers (one per channel), got an array of 3 values.")]
    [InlineData("\"options\":{\"weights\":[1,1,1]}", "Request 1 ('bad'): options.weights has 3 values but the input has 4.")]
    [InlineData("\"options\":{\"outlier_sigma\":\"two\"}", "Request 1 ('bad'): options.outlier_sigma must be a finite number, got the string \"two\".")]
    [InlineData("\"input\":[1,2,\"x\",4]", "Request 1 ('bad'): input[2] must be a finite float32 number, got the string \"x\".")]
    [InlineData("\"input\":[1,2,1e39,4]", "Request 1 ('bad'): input[2] must be a finite float32 number")]
    public void Run_InvalidSecondRequest_NamesRequestAndField(string replacement, string expected)
    {
        var key = replacement[1..replacement.IndexOf('"', 1)];
        var bad = JsonNode.Parse(MinimalMsqe)!.AsObject();
        bad["name"] = "bad";
        bad.Remove(key);
        var badJson = bad.ToJsonString().TrimEnd('}') + "," + replacement + "}";
        var json = "[" + MinimalMsqe + "," + badJson + "]";

        var ex = Assert.Throws<QuantizeRequestException>(() => QuantizeService.Run(json));

        Assert.StartsWith(expected, ex.Message);
        Assert.Equal(1, ex.RequestIndex);
        Assert.Equal("bad", ex.RequestName);
    }

    [Theory]
    [InlineData("""{"method":"learnable_po2","bits":4,"channel_axis":null,"shape":[1],"input":[1],"options":{"mode":"floor"}}""", "Request 0: options.mode must be one of ceil, rint, msqe_round; got the string \"floor\".")]
    [InlineData("""{"method":"learnable_po2","bits":4,"channel_axis":null,"shape":[1],"input":[1],"options":{"step":1}}""", "Request 0: unknown option 'step' for method 'learnable_po2'; valid options: mode, log2_scale, min_init_scale, outlier_mask, weights.")]
    [InlineData("""{"method":"legacy_auto_po2","bits":4,"channel_axis":null,"shape":[1],"input":[1],"options":{"line_search":true}}""", "Request 0: unknown option 'line_search' for method 'legacy_auto_po2'; valid options: iterations.")]
    [InlineData("""{"method":"lsq","bits":4,"channel_axis":null,"shape":[1],"input":[1],"options":{"step":[-1]}}""", "Request 0: options.step values must be positive.")]
    [InlineData("""{"method":"lsq","bits":4,"shape":[1],"input":[1]}""", "Request 0: missing required field 'channel_axis'.")]
    [InlineData("""{"method":"msqe_po2","method":"lsq","bits":4,"channel_axis":null,"shape":[1],"input":[1]}""", "Request 0: duplicate field 'method'.")]
    [InlineData("""{"method":"msqe_po2","bits":4.5,"channel_axis":null,"shape":[1],"input":[1]}""", "Request 0: bits must be an integer, got the number 4.5.")]
    [InlineData("""{"method":"msqe_po2","bits":4,"channel_axis":null,"shape":[0],"input":[]}""", "Request 0: shape[0] must be a positive integer, got the number 0.")]
    public void Run_InvalidSingleRequest_Throws(string json, string expected)
    {
        var ex = Assert.Throws<QuantizeRequestException>(() => QuantizeService.Run(json));
        Assert.Equal(expected, ex.Message);
    }

    [Fact]
    public void Run_InvalidLaterRequest_RunsNothing()
    {
        // Validation happens for every request before any is run: the error is about request 1 even though request 0 is fine.
        var json = "[" + MinimalMsqe + """,{"method":"msqe_po2","bits":12,"channel_axis":null,"shape":[1],"input":[1]}]""";
        var ex = Assert.Throws<QuantizeRequestException>(() => QuantizeService.Run(json));
        Assert.Equal(1, ex.RequestIndex);
        Assert.Null(ex.RequestName);
    }
}
