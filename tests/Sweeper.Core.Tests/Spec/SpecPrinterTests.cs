using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Tests.Shared;

namespace Sweeper.Core.Tests.Spec;

/// <summary>
/// <see cref="SpecPrinter"/>: the resolved YAML of <c>sweeper validate --print</c> loads back to the same spec and so
/// plans the same trials, for every config of the repository and for specs that use every form the loader reads.
/// </summary>
public sealed class SpecPrinterTests
{
    /// <summary>Every sweep spec shipped in configs/ and examples/ (a data set or a plug-in may be missing here: paths are not checked).</summary>
    public static TheoryData<string> Configs()
    {
        var data = new TheoryData<string>();
        foreach (var folder in new[] { "configs", "examples" })
            foreach (var file in Directory.EnumerateFiles(Repository.Path(folder), "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                data.Add(Path.GetRelativePath(Repository.Root, file));
        return data;
    }

    private static readonly SpecLoader.Options NoPathChecks = new() { CheckPaths = false };

    [Theory]
    [MemberData(nameof(Configs))]
    public void Yaml_EveryConfig_LoadsBackToTheSameSpecAndPlan(string config)
    {
        var original = SpecLoader.LoadFile(Repository.Path(config), NoPathChecks);

        AssertRoundTrip(original);
    }

    /// <summary>Shorthands, environment references, nested args, variants, conditions, every domain kind and every change form.</summary>
    private const string Rich = """
        name: "${env:SWEEP_NAME:-rich}"
        seed: 11
        objective: {metric: val_loss, mode: min}
        trainable:
          model: synthetic
          epochs: ${env:EPOCHS}
          width: "${env:WIDTH:-0.5}"
          dataset: {validation: 0.1}
          optimizer: {name: adam, lr: 0.01}
          quantizer: {method: msqe_po2, bn_fold: true, stable_scale: true, stable_from_epoch: 2}
          synthetic: {noise_std: 0.0125}
        parameters:
          trainable.optimizer.lr: {log_uniform: [0.001, 0.1], q: 0.001}
          trainable.optimizer.name: {values: [sgd, adam]}
          trainable.optimizer.momentum: {uniform: [0.5, 0.99], when: {trainable.optimizer.name: [sgd]}}
          trainable.batch_size: {int_uniform: [16, 128], q: 16}
          trainable.width: {normal: [0.5, 0.125]}
          trainable.quantizer.bn_fold: {values: [qkeras, pytorch, false]}
          trainable.model: {values: [synthetic]}
        variants:
          plain: {}
          masked: {trainable.quantizer.outlier_mask: true, trainable.quantizer.outlier_sigma: 3}
        search: {algorithm: random, num_samples: 7, repeat: 2}
        scheduler: {name: median_stopping, grace_period: 2}
        stop: {max_minutes: 90, target: 0.01}
        telemetry: {otlp_endpoint: "http://127.0.0.1:4317"}
        checkpoint: {dir: ckpt, keep: 0}
        stability:
          monitor: {warmup_steps: 10, min_exponent: -12}
          oscillating:
            action: restart
            from: latest
            changes: {trainable.quantizer.stable_scale: true, trainable.optimizer.name: "=sgd"}
            backoff: 1500ms
          drifting: {action: stop}
          diverged:
            action: restart
            change: [{trainable.optimizer.lr: "*0.5"}, {trainable.batch_size: "+16"}, {trainable.width: 0.25}]
            max_restarts: 2
            backoff: {type: exponential, delay: 1.2345s, max_delay: 1m}
        """;

    [Fact]
    public void Yaml_EveryFormTheLoaderReads_LoadsBackToTheSameSpecAndPlan()
    {
        var environment = new Dictionary<string, string> { ["EPOCHS"] = "3" };
        var original = SpecLoader.LoadText(Rich, "rich.yaml", "/specs", new SpecLoader.Options { CheckPaths = false, Environment = environment.GetValueOrDefault });

        var yaml = AssertRoundTrip(original);

        Assert.DoesNotContain("${env:", yaml, StringComparison.Ordinal);
        Assert.Contains("name: rich\n", yaml, StringComparison.Ordinal);
        Assert.Contains("  epochs: 3\n", yaml, StringComparison.Ordinal);
        Assert.Contains("  model:\n    name: synthetic\n", yaml, StringComparison.Ordinal); // the shorthand written out
        Assert.Contains("  dir: ckpt\n", yaml, StringComparison.Ordinal); // as written: a run resolves it against the spec's folder
        Assert.Contains("      delay: 1.2345s\n", yaml, StringComparison.Ordinal); // exact, not rounded to 1.235s
        Assert.Contains("  drifting:\n    action: stop\n  diverged:", yaml, StringComparison.Ordinal); // no restart-only keys
    }

    [Fact]
    public void Yaml_PluginAndProgram_PathsAbsoluteArgsNestedAgain()
    {
        var plugin = SpecLoader.LoadText("""
            name: p
            objective: {metric: test_accuracy}
            trainable:
              model: {assembly: bin/Mine.dll, type: Mine.Model}
              args: {block: {depth: 2, kind: "3"}, ratio: 1.0, on: true, label: "007"}
              epochs: 1
              dataset: {name: mnist, path: data}
            parameters:
              trainable.args.block.depth: {int_uniform: [1, 4]}
            """, "p.yaml", "/specs", NoPathChecks);
        var program = SpecLoader.LoadText("""
            name: q
            objective: {metric: val_accuracy}
            trainable:
              command: [python3, train.py, --lr, "${trainable.optimizer.lr}", "$${literal}", 5, true]
              workdir: work
              kill_grace: 250ms
              epochs: 1
            """, "q.yaml", "/specs", NoPathChecks);

        var pluginYaml = AssertRoundTrip(plugin);
        var programYaml = AssertRoundTrip(program);

        Assert.Contains("    assembly: /specs/bin/Mine.dll\n", pluginYaml, StringComparison.Ordinal);
        Assert.Contains("  args:\n    block:\n      depth: 2\n      kind: \"3\"\n    ratio: 1.0\n", pluginYaml, StringComparison.Ordinal);
        Assert.Contains("    path: /specs/data\n", pluginYaml, StringComparison.Ordinal);
        Assert.DoesNotContain("command", pluginYaml, StringComparison.Ordinal);
        Assert.Contains("  workdir: /specs/work\n", programYaml, StringComparison.Ordinal);
        Assert.DoesNotContain("  model:", programYaml, StringComparison.Ordinal);
    }

    [Fact]
    public void TryRead_EverySetting_HasAReadingInADefaultSpec()
    {
        var spec = SpecLoader.LoadText("name: d\nobjective: {metric: test_accuracy}\ntrainable: {model: synthetic, epochs: 1}\n", "d.yaml", "/specs", NoPathChecks);
        var everyRestart = spec.Stability.Policy.Diverged with { Backoff = new Core.Stability.RestartBackoff { MaxDelay = TimeSpan.FromMinutes(1) } };
        var restart = spec with
        {
            Stability = spec.Stability with { Policy = new Core.Stability.StabilityPolicy { Oscillating = everyRestart, Drifting = everyRestart, Diverged = everyRestart } },
        };
        var program = spec with { Trainable = spec.Trainable with { Model = TrainableSpec.CommandModel, Command = new CommandSpec { Argv = ["x"], WorkingDirectory = "/w" } } };
        var plugin = spec with { Trainable = spec.Trainable with { Plugin = new ModelPluginSpec("/a.dll", "A") } };

        // Every setting is read (none throws), and applies to at least one of these specs.
        Assert.All(SpecSchema.Settings, s => Assert.True(new[] { spec, restart, program, plugin }.Count(x => SpecPrinter.TryRead(x, s, out _)) > 0, s.Path));
    }

    /// <summary>Prints, loads the text back and checks the spec and its trials are the same; returns the text.</summary>
    private static string AssertRoundTrip(SweepSpec original)
    {
        var yaml = SpecPrinter.Yaml(original);
        var reloaded = SpecLoader.LoadText(yaml, "printed.yaml", "/elsewhere", new SpecLoader.Options { CheckPaths = false, Environment = _ => null });

        Assert.Equal(original.Name, reloaded.Name);
        Assert.Equal(original.Seed, reloaded.Seed);
        Assert.Equal(original.Objective, reloaded.Objective);
        Assert.Equal(original.Trainable, reloaded.Trainable);
        Assert.Equal(original.Search, reloaded.Search);
        Assert.Equal(original.Scheduler, reloaded.Scheduler);
        Assert.Equal(original.Stop, reloaded.Stop);
        Assert.Equal(original.Telemetry, reloaded.Telemetry);
        Assert.Equal(original.Crashes, reloaded.Crashes);
        Assert.Equal(original.Resources, reloaded.Resources);
        Assert.Equal(original.Output, reloaded.Output);
        Assert.Equal(original.Checkpoint, reloaded.Checkpoint);
        Assert.Equal(original.Stability, reloaded.Stability);
        Assert.Equal(original.Parameters.Select(p => p.Definition.ToString()), reloaded.Parameters.Select(p => p.Definition.ToString()));
        Assert.Equal(original.Variants.Select(v => (v.Name, string.Join(", ", v.Settings))), reloaded.Variants.Select(v => (v.Name, string.Join(", ", v.Settings))));
        Assert.Equal(original.Warnings.Select(w => w.Message), reloaded.Warnings.Select(w => w.Message));

        var planned = SpecTrialSource.Preview(original, 50);
        var replanned = SpecTrialSource.Preview(reloaded, 50);
        Assert.Equal(new SpecTrialSource(original).Total, new SpecTrialSource(reloaded).Total);
        Assert.Equal(planned.Count, replanned.Count);
        foreach (var (a, b) in planned.Zip(replanned))
        {
            Assert.Equal((a.Id, a.Seed, a.ConfigIndex, a.Repeat), (b.Id, b.Seed, b.ConfigIndex, b.Repeat));
            Assert.Equal(a.Parameters, b.Parameters);
            Assert.Equal(a.Trainable, b.Trainable);
        }
        Assert.Equal(yaml, SpecPrinter.Yaml(reloaded)); // printing is a fixed point
        return yaml;
    }
}
