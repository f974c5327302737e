using System.Diagnostics;
using System.Globalization;
using Sweeper.Core.Reporting;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Xunit.Abstractions;
using Sweeper.Core.Sweep;
using Sweeper.Core.Model;

namespace Sweeper.Cli.Tests;

/// <summary><c>sweeper report</c> through the real program, and its page in headless Chromium.</summary>
public sealed class ReportCommandTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string[] RunFiles = ["summary.md", "results.csv", "epochs.csv", "results.json"];
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-report-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>3 learning rates × repeat 2 = 6 synthetic trials (or × 2 widths, once each).</summary>
    private static string Spec(bool widths) => $$"""
        name: report
        seed: 5
        objective: {metric: test_accuracy, mode: max}
        trainable: {model: synthetic, epochs: 3}
        parameters:
          trainable.optimizer.lr: {values: [0.01, 0.1, 0.3]}
          {{(widths ? "trainable.width: {values: [0.25, 0.5]}" : "")}}
        search: {algorithm: grid, repeat: {{(widths ? 1 : 2)}}}
        resources: {max_concurrent_trials: 2}
        output: {dir: runs}
        """;

    private async Task<string> RunSweepAsync(bool widths)
    {
        File.WriteAllText(Path.Combine(_dir, "spec.yaml"), Spec(widths));
        var run = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(2), "run", "spec.yaml");
        Assert.True(run.ExitCode == 0, run.ToString());
        return Assert.Single(Directory.GetDirectories(Path.Combine(_dir, "runs")));
    }

    private static readonly DateTime LongAgo = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>
    /// Keeps copies of the run's files, deletes summary.md, results.csv and epochs.csv and ages results.json (it holds
    /// when the sweep ended, which the journal does not), so that the report has to write all four again.
    /// </summary>
    private static Dictionary<string, string> TakeAway(string runDir)
    {
        var copies = RunFiles.ToDictionary(f => f, f => File.ReadAllText(Path.Combine(runDir, f)));
        File.Delete(Path.Combine(runDir, "summary.md"));
        File.Delete(Path.Combine(runDir, "results.csv"));
        File.Delete(Path.Combine(runDir, "epochs.csv"));
        File.SetLastWriteTimeUtc(Path.Combine(runDir, "results.json"), LongAgo);
        return copies;
    }

    private static void AssertWrittenAgain(string runDir, Dictionary<string, string> before)
    {
        foreach (var f in RunFiles) Assert.Equal(before[f], File.ReadAllText(Path.Combine(runDir, f)));
        Assert.True(File.GetLastWriteTimeUtc(Path.Combine(runDir, "results.json")) > LongAgo.AddYears(1), "results.json was written again");
    }

    [Fact]
    public async Task Report_SyntheticRunWithRepeats_RewritesTheRunFilesByteForByteAddsGroupsAndPage()
    {
        var runDir = await RunSweepAsync(widths: false);
        var before = TakeAway(runDir);

        var report = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "report", runDir);

        Assert.True(report.ExitCode == 0, report.ToString());
        Assert.Equal("", report.Stderr);
        AssertWrittenAgain(runDir, before);
        Assert.Contains("## Groups by configuration", before["summary.md"]); // sweeper run wrote the grouped table too
        var groups = File.ReadAllLines(Path.Combine(runDir, GroupTable.CsvFile));
        Assert.Equal("rank,trainable.optimizer.lr,trials,completed,n,test_accuracy_mean,test_accuracy_std,test_accuracy_min,test_accuracy_max,resumes,flips_mean,trial_ids", groups[0]);
        Assert.Equal(4, groups.Length);
        Assert.All(groups.Skip(1), row => Assert.Contains(",2,2,2,", row)); // two seeds each, both completed, both counted
        Assert.Equal(["0.01", "0.1", "0.3"], groups.Skip(1).Select(r => r.Split(',')[1]).Order());
        Assert.False(File.Exists(Path.Combine(runDir, "journal.db-wal")), "the report leaves the journal as the run left it");
        Assert.Contains("report of sweep report from journal.db (6 trial(s))", report.Stdout);
        Assert.Contains("groups by configuration", report.Stdout);
        Assert.Contains("t0006", report.Stdout);

        var page = File.ReadAllText(Path.Combine(runDir, HtmlReport.FileName));
        Assert.Contains("class=\"plot plot-groups\"", page);
        Assert.Contains("class=\"plot plot-curves\"", page);
        var rendered = await Chromium.DumpDomAsync(Path.Combine(runDir, HtmlReport.FileName), _dir);
        Assert.Empty(rendered.ConsoleMessages);
        Assert.Contains("data-report-ready=\"1\"", rendered.Dom);

        // Without results.json only the sweep's end is unknown: it is taken from the last trial's end, and said so.
        File.Delete(Path.Combine(runDir, "results.json"));
        var journalOnly = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "report", runDir);
        Assert.True(journalOnly.ExitCode == 0, journalOnly.ToString());
        Assert.Contains("note: the sweep's end is taken from its last trial's end (results.json is missing)", journalOnly.Stdout);
        Assert.Equal(before["results.csv"], File.ReadAllText(Path.Combine(runDir, "results.csv")));
        Assert.Equal(TrialsOf(before["results.json"]), TrialsOf(File.ReadAllText(Path.Combine(runDir, "results.json"))));
    }

    private static string TrialsOf(string resultsJson) =>
        System.Text.Json.JsonDocument.Parse(resultsJson).RootElement.GetProperty("trials").GetRawText();

    [Fact]
    public async Task Report_GroupByKey_PoolsTheOtherParameterAndOnlySummaryChanges()
    {
        var runDir = await RunSweepAsync(widths: true);
        var before = TakeAway(runDir);

        var bad = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "report", runDir, "--group-by", "depth");
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("error: --group-by: 'depth' is not a swept parameter; the swept parameters are: trainable.optimizer.lr, trainable.width\n", bad.Stderr);
        Assert.False(File.Exists(Path.Combine(runDir, HtmlReport.FileName)), "nothing is written for a bad key");

        var report = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "report", runDir, "--group-by", "width");

        Assert.True(report.ExitCode == 0, report.ToString());
        Assert.Equal(before["results.csv"], File.ReadAllText(Path.Combine(runDir, "results.csv")));
        Assert.Equal(before["results.json"], File.ReadAllText(Path.Combine(runDir, "results.json")));
        Assert.True(File.GetLastWriteTimeUtc(Path.Combine(runDir, "results.json")) > LongAgo.AddYears(1), "results.json was written again");
        Assert.DoesNotContain("## Groups", before["summary.md"]); // one trial per configuration: nothing to pool
        var summary = File.ReadAllText(Path.Combine(runDir, "summary.md"));
        Assert.StartsWith(before["summary.md"], summary);
        Assert.Contains("## Groups by trainable.width", summary);
        var groups = File.ReadAllLines(Path.Combine(runDir, GroupTable.CsvFile));
        Assert.Equal(3, groups.Length);
        Assert.All(groups.Skip(1), row => Assert.Contains(",3,3,3,", row));
        Assert.Contains("groups by trainable.width", report.Stdout);
    }

    /// <summary>Random search over a log-uniform learning rate and a choice of optimizer: 14 synthetic trials of 3 epochs.</summary>
    private const string SearchSpec = """
        name: search
        seed: 21
        objective: {metric: test_accuracy, mode: max}
        trainable: {model: synthetic, epochs: 3}
        parameters:
          trainable.optimizer.name: {values: [sgd, adam]}
          trainable.optimizer.lr: {log_uniform: [0.0001, 1.0]}
        search: {algorithm: random, num_samples: 14}
        resources: {max_concurrent_trials: 4}
        checkpoint: {interval_epochs: 0}
        output: {dir: runs}
        """;

    [Fact]
    public async Task Report_RandomSearchOverLogUniformAndChoice_FullPrecisionCsvsAndParameterPlotsChromiumRenders()
    {
        File.WriteAllText(Path.Combine(_dir, "spec.yaml"), SearchSpec);
        var run = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(2), "run", "spec.yaml");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("epochs.csv", run.Stdout);
        var runDir = Assert.Single(Directory.GetDirectories(Path.Combine(_dir, "runs")));

        // The run's CSVs hold exactly the numbers of results.json.
        using (var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "results.json"))))
        {
            var trials = json.RootElement.GetProperty("trials").EnumerateArray().ToDictionary(t => t.GetProperty("trial").GetString()!);
            Assert.Equal(14, trials.Count);
            var results = Csv(File.ReadAllText(Path.Combine(runDir, "results.csv")));
            foreach (var row in results)
            {
                var t = trials[row["trial"]];
                if (t.GetProperty("objective").ValueKind == System.Text.Json.JsonValueKind.Null) Assert.Equal("", row["test_accuracy"]);
                else Assert.Equal(t.GetProperty("objective").GetDouble(), Number(row["test_accuracy"]));
                Assert.Equal(t.GetProperty("parameters").GetProperty("trainable.optimizer.lr").GetDouble(), Number(row["trainable.optimizer.lr"]));
            }
            var epochs = Csv(File.ReadAllText(Path.Combine(runDir, "epochs.csv")));
            Assert.Equal(["trial", "state", "attempt", "trainable.optimizer.name", "trainable.optimizer.lr", "epoch"], epochs[0].Keys.Take(6));
            Assert.Equal("duration_s", epochs[0].Keys.Last());
            Assert.Equal(trials.Values.Sum(t => t.GetProperty("epochs").GetArrayLength()), epochs.Count);
            int checkedValues = 0;
            foreach (var row in epochs)
            {
                var t = trials[row["trial"]];
                Assert.Equal(t.GetProperty("state").GetString(), row["state"]);
                Assert.InRange(int.Parse(row["attempt"], CultureInfo.InvariantCulture), 1, t.GetProperty("attempts").GetArrayLength());
                Assert.Equal(t.GetProperty("parameters").GetProperty("trainable.optimizer.name").GetString(), row["trainable.optimizer.name"]);
                var epoch = t.GetProperty("epochs")[int.Parse(row["epoch"], CultureInfo.InvariantCulture) - 1];
                Assert.Equal(epoch.GetProperty("duration_s").GetDouble(), Number(row["duration_s"]));
                foreach (var metric in epoch.GetProperty("metrics").EnumerateObject().Where(m => m.Value.ValueKind == System.Text.Json.JsonValueKind.Number))
                {
                    Assert.Equal(metric.Value.GetDouble(), Number(row[metric.Name]));
                    checkedValues++;
                }
            }
            Assert.True(checkedValues >= epochs.Count * 2, $"{checkedValues} metric values compared");
        }

        var before = TakeAway(runDir);
        var report = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "report", runDir);
        Assert.True(report.ExitCode == 0, report.ToString());
        AssertWrittenAgain(runDir, before);

        var page = Path.Combine(runDir, HtmlReport.FileName);
        var rendered = await Chromium.DumpDomAsync(page, _dir);
        Assert.True(rendered.ConsoleMessages.Count == 0, "console messages:\n" + string.Join('\n', rendered.ConsoleMessages));
        Assert.Contains("data-report-ready=\"1\"", rendered.Dom);
        Assert.Contains("<section id=\"parameters\">", rendered.Dom);
        Assert.Contains("<section id=\"parallel\">", rendered.Dom);
        Assert.Contains("id=\"param-trainable.optimizer.lr\"", rendered.Dom);
        Assert.Contains("id=\"param-trainable.optimizer.name\"", rendered.Dom);
        Assert.Contains("trainable.optimizer.lr (log scale)", rendered.Dom);
        var parallel = System.Text.RegularExpressions.Regex.Match(rendered.Dom, "<svg[^>]* id=\"parallel-plot\".*?</svg>", System.Text.RegularExpressions.RegexOptions.Singleline).Value;
        var completed = File.ReadAllLines(Path.Combine(runDir, "results.csv")).Count(l => l.Contains(",completed,", StringComparison.Ordinal));
        Assert.True(completed >= 2, "enough completed trials for the parallel coordinates");
        Assert.Equal(completed, System.Text.RegularExpressions.Regex.Matches(parallel, "<polyline ").Count);
        Assert.Contains(">sgd<", parallel);
        Assert.Contains(">adam<", parallel);

        var screenshot = Path.Combine(_dir, "search-report.png");
        await Chromium.ScreenshotAsync(page, screenshot, _dir, "--window-size=1200,2600");
        Assert.True(new FileInfo(screenshot).Length > 20_000, "a screenshot with plots");
        if (Environment.GetEnvironmentVariable("SWEEPER_PARAMETER_PLOTS_SCREENSHOT") is { Length: > 0 } keep) File.Copy(screenshot, keep, overwrite: true);
    }

    private static double Number(string cell) => double.Parse(cell, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>A CSV (RFC 4180: quoted cells may hold commas, doubled quotes and line breaks) as rows of header → cell.</summary>
    private static List<Dictionary<string, string>> Csv(string text)
    {
        var rows = new List<List<string>> { new() };
        var cell = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c != '"') cell.Append(c);
                else if (i + 1 < text.Length && text[i + 1] == '"') { cell.Append('"'); i++; }
                else quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { rows[^1].Add(cell.ToString()); cell.Clear(); }
            else if (c == '\n') { rows[^1].Add(cell.ToString()); cell.Clear(); rows.Add([]); }
            else cell.Append(c);
        }
        Assert.Empty(rows[^1]);
        rows.RemoveAt(rows.Count - 1);
        var header = rows[0];
        return rows.Skip(1).Select(cells =>
        {
            Assert.Equal(header.Count, cells.Count);
            return header.Zip(cells).ToDictionary(p => p.First, p => p.Second);
        }).ToList();
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("empty")]
    [InlineData("file")]
    [InlineData("other-files")]
    public async Task Report_NotARunDirectory_Exit2OneLineNoStackTrace(string kind)
    {
        var path = Path.Combine(_dir, "target");
        switch (kind)
        {
            case "empty": Directory.CreateDirectory(path); break;
            case "file": File.WriteAllText(path, "x"); break;
            case "other-files": Directory.CreateDirectory(path); File.WriteAllText(Path.Combine(path, "spec.yaml"), "name: x"); break;
        }

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "report", "target");

        Assert.Equal(2, outcome.ExitCode);
        var line = Assert.Single(outcome.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(kind switch
        {
            "missing" => "error: run directory 'target' does not exist",
            "file" => "error: 'target' is a file, not a run directory",
            _ => "error: 'target' is not a Sweeper run directory: it holds neither journal.db nor results.json",
        }, line);
        Assert.Equal("", outcome.Stdout);
    }

    [Fact]
    public async Task Report_CorruptJournal_Exit2NamesTheFile()
    {
        var path = Directory.CreateDirectory(Path.Combine(_dir, "broken")).FullName;
        File.WriteAllText(Path.Combine(path, "journal.db"), "this is not SQLite");

        var outcome = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "report", "broken");

        Assert.Equal(2, outcome.ExitCode);
        Assert.StartsWith($"error: cannot read {Path.Combine(path, "journal.db")}: ", outcome.Stderr);
        Assert.DoesNotContain("   at ", outcome.Stderr);
    }

    [Fact]
    public async Task Report_QuantizedRunWithOnlyResultsJson_SameFilesAndAPageChromiumRendersWithoutConsoleErrors()
    {
        var runDir = QuantizedRun.Write(Directory.CreateDirectory(Path.Combine(_dir, "quant-demo-20261126-100000")).FullName);
        var before = TakeAway(runDir);

        var report = await SweeperProcess.RunAsync(_dir, TimeSpan.FromMinutes(1), "report", runDir);

        Assert.True(report.ExitCode == 0, report.ToString());
        Assert.Contains("note: no journal.db: read results.json and spec.yaml", report.Stdout);
        AssertWrittenAgain(runDir, before);
        var page = Path.Combine(runDir, HtmlReport.FileName);

        // The detector works: a page with a console error and an exception is caught.
        var probe = Path.Combine(_dir, "probe.html");
        File.WriteAllText(probe, "<!DOCTYPE html><html><body><script>console.error('probe'); notAFunction();</script></body></html>");
        var broken = await Chromium.DumpDomAsync(probe, _dir);
        Assert.Contains(broken.ConsoleMessages, m => m.Contains("probe", StringComparison.Ordinal));
        Assert.Contains(broken.ConsoleMessages, m => m.Contains("Uncaught ReferenceError", StringComparison.Ordinal));

        var rendered = await Chromium.DumpDomAsync(page, _dir);
        Assert.True(rendered.ConsoleMessages.Count == 0, "console messages:\n" + string.Join('\n', rendered.ConsoleMessages));
        Assert.Contains("data-report-ready=\"1\"", rendered.Dom); // the page's script ran to its end
        foreach (var plot in new[] { "plot-groups", "plot-objective", "plot-curves", "plot-exponents", "plot-flips", "plot-layer" })
            Assert.Contains($"class=\"plot {plot}\"", rendered.Dom);
        Assert.Contains("<select id=\"quant-trial\">", rendered.Dom);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", rendered.Dom); // the hostile reason is text
        Assert.DoesNotContain("<script>alert(1)", rendered.Dom);

        var screenshot = Path.Combine(_dir, "report.png");
        await Chromium.ScreenshotAsync(page, screenshot, _dir);
        var png = File.ReadAllBytes(screenshot);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        Assert.True(png.Length > 20_000, $"a 1400×2000 screenshot of the report has {png.Length} bytes");
        output.WriteLine($"screenshot: {png.Length} bytes");
        if (Environment.GetEnvironmentVariable("SWEEPER_REPORT_SCREENSHOT") is { Length: > 0 } keep) File.Copy(screenshot, keep, overwrite: true);
    }

    /// <summary>
    /// A run directory of a quantized sweep as <c>sweeper run</c> leaves it, without a journal: spec.yaml and the three
    /// files, trials planned by the spec, each epoch with per-layer exponents and flip counts; one trial resumed, one
    /// failed with a reason that is markup.
    /// </summary>
    private static class QuantizedRun
    {
        private const string SpecText = """
            name: quant-demo
            seed: 3
            objective: {metric: test_accuracy, mode: max}
            trainable: {model: synthetic, epochs: 6}
            parameters:
              trainable.quantizer.method: {values: [msqe_po2, learnable_po2]}
              trainable.quantizer.bits: {values: [4, 3]}
            search: {algorithm: grid, repeat: 2}
            """;

        private static readonly string[] Layers = ["conv0", .. Enumerable.Range(1, 6).SelectMany(i => new[] { $"features.{i}.dw", $"features.{i}.pw" }), "fc"];

        public static string Write(string runDir)
        {
            var specPath = Path.Combine(runDir, "spec.yaml");
            File.WriteAllText(specPath, SpecText);
            var spec = SpecLoader.LoadText(SpecText, specPath, runDir);
            var start = new DateTimeOffset(2026, 11, 26, 10, 0, 0, TimeSpan.Zero);
            var trials = SpecTrialSource.Preview(spec, 100).Select(c => Trial(c, start)).ToList();
            Assert.Equal(8, trials.Count);
            ReportWriter.WriteAll(new SweepResult(spec.Name, spec.Objective, trials, start, start.AddMinutes(9)), runDir);
            return runDir;
        }

        private static TrialRecord Trial(TrialConfig config, DateTimeOffset start)
        {
            var random = new Random((int)config.Seed);
            bool msqe = Equals(config.Parameters[0].Value, "msqe_po2");
            long bits = (long)config.Parameters[1].Value;
            var epochs = new List<EpochResult>();
            var running = new double[Layers.Length];
            for (int e = 1; e <= config.Trainable.Epochs; e++)
            {
                var metrics = new Dictionary<string, double>
                {
                    [MetricNames.TrainLoss] = 1.6 / (e + 1),
                    [MetricNames.TestLoss] = 1.8 / (e + 1),
                    [MetricNames.TestAccuracy] = 0.55 + 0.045 * e - (bits == 3 ? 0.05 : 0) - (msqe ? 0.02 : 0) + 0.01 * random.NextDouble(),
                };
                double flipsEpoch = 0;
                for (int l = 0; l < Layers.Length; l++)
                {
                    bool flip = random.NextDouble() < (msqe ? 0.3 : 0.05);
                    running[l] += flip ? 1 : 0;
                    flipsEpoch += flip ? 1 : 0;
                    metrics[$"quant.{Layers[l]}.exponent_mean"] = -3 - 0.25 * l - 0.02 * e + (flip && e % 2 == 1 ? 0.5 : 0);
                    metrics[$"quant.{Layers[l]}.msqe"] = 1e-4 * (l + 1) / e;
                    metrics[$"quant.{Layers[l]}.flips"] = running[l];
                }
                metrics["quant.flips_total"] = running.Sum();
                metrics["quant.flips_epoch"] = flipsEpoch;
                epochs.Add(new EpochResult(e, metrics, TimeSpan.FromTicks(12_345_679 + 1000 * e)));
            }
            var trial = new TrialRecord
            {
                Config = config,
                State = TrialState.Completed,
                Epochs = epochs,
                Worker = "akka.tcp://sweeper@127.0.0.1:4053",
                StartedAt = start.AddSeconds(config.Id.Index),
                FinishedAt = start.AddSeconds(30 + config.Id.Index),
            };
            return config.Id.Index switch
            {
                2 => trial with { Resumes = [new TrialResume(3, "worker akka.tcp://sweeper@10.0.0.3:4053 left the cluster", start.AddSeconds(12))] },
                7 => trial with { State = TrialState.Failed, Epochs = epochs.Take(2).ToList(), Reason = "loss is NaN <script>alert(1)</script>" },
                _ => trial,
            };
        }
    }

    /// <summary>Debian's headless Chromium (ops/test installs it): the DOM after the page's scripts ran, and its console.</summary>
    private static class Chromium
    {
        private const string Executable = "/usr/bin/chromium";

        public sealed record Rendered(string Dom, IReadOnlyList<string> ConsoleMessages);

        public static async Task<Rendered> DumpDomAsync(string htmlFile, string workDir)
        {
            var (stdout, stderr) = await RunAsync(workDir, "--dump-dom", new Uri(htmlFile).AbsoluteUri);
            // Every console message of the page (any level) and every uncaught exception is logged as a CONSOLE line.
            var console = stderr.Split('\n').Where(l => l.Contains(":CONSOLE", StringComparison.Ordinal) || l.Contains("Uncaught", StringComparison.Ordinal)).ToList();
            return new Rendered(stdout, console);
        }

        public static async Task ScreenshotAsync(string htmlFile, string png, string workDir, string windowSize = "--window-size=1400,2000")
        {
            await RunAsync(workDir, $"--screenshot={png}", windowSize, "--hide-scrollbars", new Uri(htmlFile).AbsoluteUri);
            Assert.True(File.Exists(png), $"Chromium wrote no screenshot to {png}");
        }

        private static async Task<(string Stdout, string Stderr)> RunAsync(string workDir, params string[] args)
        {
            Assert.True(File.Exists(Executable),
                $"Chromium is required for the report tests and was not found at {Executable}: run ops/test (it installs Debian's chromium package as root) or 'sudo apt-get install chromium'");
            var profile = Directory.CreateDirectory(Path.Combine(workDir, "chromium-profile-" + Guid.NewGuid().ToString("N"))).FullName;
            var psi = new ProcessStartInfo(Executable) { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[]
                     {
                         "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                     }.Concat(args))
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            try { await p.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException)
            {
                p.Kill(entireProcessTree: true);
                Assert.Fail($"chromium {string.Join(' ', args)} did not finish in 90 s:\n{await stderr}");
            }
            Assert.True(p.ExitCode == 0, $"chromium {string.Join(' ', args)} exited with {p.ExitCode}:\n{await stderr}");
            return (await stdout, await stderr);
        }
    }
}
