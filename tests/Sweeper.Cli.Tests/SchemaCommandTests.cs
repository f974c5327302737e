using System.Text.Json;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary><c>sweeper schema</c> and <c>sweeper validate --print</c>, through the real program.</summary>
public sealed class SchemaCommandTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);

    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-schema-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task Schema_PrintsValidJsonEqualToTheCommittedFile_OutputWritesTheSame()
    {
        var committed = File.ReadAllText(Repository.Path("docs", "sweep.schema.json"));

        var printed = await SweeperProcess.RunAsync(_dir, Timeout, "schema");
        var written = await SweeperProcess.RunAsync(_dir, Timeout, "schema", "--output", "out/sweep.schema.json");

        Assert.True(printed.ExitCode == 0, printed.ToString());
        using (var json = JsonDocument.Parse(printed.Stdout))
            Assert.Equal("https://json-schema.org/draft/2020-12/schema", json.RootElement.GetProperty("$schema").GetString());
        Assert.Equal(committed, printed.Stdout);
        Assert.True(written.ExitCode == 0, written.ToString());
        Assert.Equal(committed, File.ReadAllText(Path.Combine(_dir, "out", "sweep.schema.json")));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "out"), "*.tmp"));
    }

    [Fact]
    public async Task ValidatePrint_ResolvedSpec_ValidAgainAndPlansTheSameTrials()
    {
        var spec = Write("spec.yaml", """
            name: printed
            seed: 5
            objective: {metric: test_accuracy, mode: max}
            trainable:
              model: synthetic
              epochs: "${env:SWEEPER_SCHEMA_TEST_UNSET:-3}"
            parameters:
              trainable.optimizer.lr: {log_uniform: [0.001, 0.1]}
              trainable.width: {values: [0.25, 0.5]}
            search: {algorithm: random, num_samples: 6, repeat: 2}
            """);

        var print = await SweeperProcess.RunAsync(_dir, Timeout, "validate", spec, "--print");
        var resolved = Write("resolved.yaml", print.Stdout);
        var again = await SweeperProcess.RunAsync(_dir, Timeout, "validate", resolved);
        var planOriginal = await SweeperProcess.RunAsync(_dir, Timeout, "plan", spec);
        var planResolved = await SweeperProcess.RunAsync(_dir, Timeout, "plan", resolved);

        Assert.True(print.ExitCode == 0, print.ToString());
        Assert.Contains("ok: ", print.Stderr); // the verdict goes to stderr: stdout is the YAML alone
        Assert.Contains("\n  epochs: 3\n", print.Stdout);
        Assert.Contains("\n  model:\n    name: synthetic\n", print.Stdout);
        Assert.Contains("\n  optimizer:\n    name: sgd\n    lr: 0.05\n", print.Stdout); // defaults written out
        Assert.DoesNotContain("${env:", print.Stdout);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.True(planOriginal.ExitCode == 0, planOriginal.ToString());
        Assert.Contains("12 of 12 trial(s) shown", planOriginal.Stdout);
        Assert.Equal(planOriginal.Stdout, planResolved.Stdout);
    }

    [Fact]
    public async Task ValidatePrint_InvalidSpec_LocatedErrorsExit2NothingOnStdout()
    {
        var spec = Write("bad.yaml", """
            name: bad
            objective: {metric: test_accuracy}
            trainable:
              model: synthetic
              epochs: ${env:SWEEPER_SCHEMA_TEST_UNSET}
              width: wide
            """);

        var outcome = await SweeperProcess.RunAsync(_dir, Timeout, "validate", spec, "--print");

        Assert.Equal(2, outcome.ExitCode);
        Assert.Equal("", outcome.Stdout);
        Assert.Contains("bad.yaml:5:11: trainable.epochs: environment variable SWEEPER_SCHEMA_TEST_UNSET is not set", outcome.Stderr);
        Assert.Contains("bad.yaml:6:10: trainable.width: expected a number, found 'wide'", outcome.Stderr);
    }
}
