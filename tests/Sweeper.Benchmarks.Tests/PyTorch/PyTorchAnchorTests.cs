using Sweeper.Benchmarks.PyTorch;
using Sweeper.Training.Models;

namespace Sweeper.Benchmarks.Tests.PyTorch;

public sealed class PyTorchAnchorTests
{
    private const string StepJson =
        """{"torch": "1.13.0a0", "threads": 1, "parameters": 700202, "wall_ms": {"float": [600.0, 620.0, 610.0], "fq_minmax": [612.0, 620.0, 622.2]}, "cpu_ms": {"float": [500.0, 500.0, 500.0], "fq_minmax": [505.0, 510.0, 515.0]}}""";

    [Fact]
    public void Discover_InterpreterMissing_SaysPyTorchNotAvailableWithThePath()
    {
        var missing = Path.Combine(Path.GetTempPath(), "sweeper-no-such-dir", "python3");

        var found = PyTorchAnchor.Discover(missing);

        Assert.False(found.Found);
        Assert.Null(found.Interpreter);
        Assert.StartsWith("PyTorch not available (", found.Message);
        Assert.Contains(missing + ": cannot be started", found.Message);
    }

    [Fact]
    public void Discover_InterpreterWithoutTorch_SaysWhatTheImportPrinted()
    {
        using var fake = new FakeInterpreter("echo \"ModuleNotFoundError: No module named 'torch'\" >&2; exit 1");

        var found = PyTorchAnchor.Discover(fake.Path);

        Assert.False(found.Found);
        Assert.Equal($"PyTorch not available ({fake.Path}: ModuleNotFoundError: No module named 'torch')", found.Message);
    }

    [Fact]
    public void Discover_InterpreterThatImportsTorch_IsChosen()
    {
        using var fake = new FakeInterpreter("[ \"$1\" = -c ] && [ \"$2\" = 'import torch, numpy' ] && exit 0; exit 3");

        var found = PyTorchAnchor.Discover(fake.Path);

        Assert.True(found.Found, found.Reason);
        Assert.Equal(fake.Path, found.Interpreter);
    }

    [Fact]
    public void ParseStep_ScriptOutput_PairsRatiosPerRound()
    {
        var figures = PyTorchAnchor.ParseStep("some warning\n" + StepJson + "\n");

        Assert.Equal("1.13.0a0", figures.TorchVersion);
        Assert.Equal(700202, figures.Parameters);
        Assert.Equal([600.0, 620.0, 610.0], figures.WallMilliseconds["float"]);
        // per round 1.02, 1.0, 1.02: the median is 1.02
        Assert.Equal(1.02, figures.RatioToFloat("fq_minmax"), 12);
        Assert.Equal(1.02, figures.CpuRatioToFloat("fq_minmax"), 12);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Traceback (most recent call last):")]
    [InlineData("""{"torch": "1.13", "threads": 1, "parameters": 5, "wall_ms": {"fq_minmax": [1.0]}, "cpu_ms": {"fq_minmax": [1.0]}}""")]
    [InlineData("""{"torch": "1.13", "threads": 1, "parameters": 5, "wall_ms": {"float": [1.0], "fq_minmax": [1.0, 2.0]}, "cpu_ms": {"float": [1.0], "fq_minmax": [1.0, 2.0]}}""")]
    [InlineData("""{"torch": "1.13", "threads": 1, "wall_ms": {"float": [1.0]}, "cpu_ms": {"float": [1.0]}}""")]
    public void ParseStep_NotTheScriptsJson_ThrowsFormatException(string output)
    {
        Assert.Throws<FormatException>(() => PyTorchAnchor.ParseStep(output));
    }

    [Fact]
    public void ParseTrial_ScriptOutput_ReadsEpochsAndPeakRss()
    {
        const string json = """{"torch": "1.13.0a0", "threads": 1, "parameters": 215498, "load_seconds": 0.8, "epochs": [{"seconds": 15.4, "train_seconds": 13.0, "val_accuracy": 0.8, "test_accuracy": 0.81}, {"seconds": 13.6, "train_seconds": 12.0, "val_accuracy": 0.83, "test_accuracy": 0.84}], "seconds": 29.0, "peak_rss_mb": 479.5}""";

        var figures = PyTorchAnchor.ParseTrial(json, processSeconds: 29.5);

        Assert.Equal("PyTorch 1.13.0a0", figures.Runner);
        Assert.Equal(215498, figures.Parameters);
        Assert.Equal(29.5, figures.Seconds);
        Assert.Equal(479.5, figures.PeakRssMegabytes);
        Assert.Equal([15.4, 13.6], figures.Epochs.Select(e => e.Seconds));
        Assert.Equal(0.84, figures.Epochs[^1].TestAccuracy);
    }

    [Theory]
    [InlineData("""{"torch": "1.13", "parameters": 1, "epochs": [], "peak_rss_mb": 1}""")]
    [InlineData("""{"torch": "1.13", "parameters": 1, "peak_rss_mb": 1}""")]
    [InlineData("not json")]
    public void ParseTrial_NotTheScriptsJson_ThrowsFormatException(string output)
    {
        Assert.Throws<FormatException>(() => PyTorchAnchor.ParseTrial(output, 1));
    }

    [Fact]
    public void Script_IsEmbedded_WithEveryCommandTheParserReads()
    {
        var script = PyTorchAnchor.Script;

        Assert.Contains("def cmd_step(", script);
        Assert.Contains("def cmd_trial(", script);
        Assert.Contains("\"wall_ms\"", script);
        Assert.Contains("\"peak_rss_mb\"", script);
    }

    /// <summary>
    /// The PyTorch script defines the same networks as <see cref="ModelFactory"/>: equal parameter counts at several
    /// widths (the widths' channel rounding differs between V1 and V2). Needs an interpreter that imports torch; without
    /// one (CI) the test is skipped with the discovery's reason.
    /// </summary>
    [SkippableTheory]
    [InlineData(ModelFactory.MobileNetV1Name, 0.25)]
    [InlineData(ModelFactory.MobileNetV1Name, 0.5)]
    [InlineData(ModelFactory.MobileNetV1Name, 0.3)]
    [InlineData(ModelFactory.MobileNetV2Name, 0.5)]
    [InlineData(ModelFactory.MobileNetV2Name, 0.35)]
    [InlineData(ModelFactory.MobileNetV2Name, 1.0)]
    [InlineData(ModelFactory.MobileNetV2Name, 1.4)]
    public void CountParameters_PyTorchScript_MatchesTheCSharpModels(string model, double width)
    {
        var found = PyTorchAnchor.Discover();
        Skip.IfNot(found.Found, found.Message);

        long ours = PyTorchAnchor.CountParameters(model, width);
        long theirs = PyTorchAnchor.CountParametersInPyTorch(found.Interpreter!, model, width);

        Assert.True(ours > 0);
        Assert.Equal(ours, theirs);
    }

    /// <summary>An executable shell script standing in for python3.</summary>
    private sealed class FakeInterpreter : IDisposable
    {
        private readonly string dir = Directory.CreateTempSubdirectory("sweeper-fake-python-").FullName;

        public FakeInterpreter(string body)
        {
            Path = System.IO.Path.Combine(dir, "python3");
            File.WriteAllText(Path, "#!/bin/sh\n" + body + "\n");
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        public string Path { get; }

        public void Dispose() => Directory.Delete(dir, recursive: true);
    }
}
