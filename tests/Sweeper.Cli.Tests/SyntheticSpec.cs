using System.Globalization;

namespace Sweeper.Cli.Tests;

/// <summary>
/// The spec the process tests run: synthetic trials (no training, <paramref name="epochSeconds"/> per epoch) over a list
/// of learning rates, 2 at a time, checkpointed every <c>interval</c> epochs, run directories under <c>runs/</c>.
/// </summary>
public static class SyntheticSpec
{
    /// <summary>Writes the spec to <c>&lt;dir&gt;/&lt;name&gt;.yaml</c> and returns its path.</summary>
    /// <param name="lrs">One trial per learning rate.</param>
    public static string Write(string dir, string name, int epochs, double epochSeconds, double[] lrs, int seed = 5,
        string metric = "val_accuracy", int interval = 1)
    {
        var path = Path.Combine(dir, name + ".yaml");
        File.WriteAllText(path, $$"""
            name: {{name}}
            seed: {{seed}}
            objective: {metric: {{metric}}, mode: max}
            trainable:
              model: synthetic
              dataset: {name: fashion_mnist, path: .}
              epochs: {{epochs}}
              synthetic: {epoch_seconds: {{epochSeconds.ToString(CultureInfo.InvariantCulture)}}}
            parameters:
              trainable.optimizer.lr: {values: [{{string.Join(", ", lrs.Select(lr => lr.ToString(CultureInfo.InvariantCulture)))}}]}
            resources: {max_concurrent_trials: 2}
            checkpoint: {interval_epochs: {{interval}}}
            output: {dir: runs}
            """);
        return path;
    }
}
