using Sweeper.Core.Spec;
using Sweeper.Training.Data;
using Sweeper.Training.Plugins;

namespace Sweeper.Cli.Running;

/// <summary>
/// The checks of a spec that need the compute half (a plug-in's type, the data set's files), run by every command that
/// loads a spec to run it, so a mistake is reported at its key before anything is written.
/// </summary>
public static class SpecChecks
{
    /// <summary>The loader options of <c>validate</c>, <c>plan</c>, <c>run</c> and <c>resume</c>.</summary>
    public static SpecLoader.Options Options { get; } = new() { Checks = [Plugin, Dataset] };

    /// <summary>
    /// A plug-in that does not load, at the key it is about (<c>trainable.model.assembly</c> or <c>.type</c>): a missing
    /// file, a type not found or of the wrong kind, a constructor that throws.
    /// </summary>
    private static IEnumerable<SpecLoader.SpecProblem> Plugin(SweepSpec spec)
    {
        if (spec.Trainable.Plugin is not { } plugin || PluginLoader.Check(plugin) is not { } error) yield break;
        var key = SpecSchema.ModelKey + ".type";
        foreach (var candidate in new[] { SpecSchema.ModelKey + ".assembly", SpecSchema.ModelKey + ".type" })
            if (error.StartsWith(candidate + ": ", StringComparison.Ordinal)) (key, error) = (candidate, error[(candidate.Length + 2)..]);
        if (!File.Exists(plugin.Assembly)) error += "; build the plug-in's project first (e.g. dotnet build samples/TinyResNet -c Release)";
        yield return new SpecLoader.SpecProblem(key, error);
    }

    /// <summary>
    /// Each missing file of the data set, at <c>trainable.dataset.path</c> (programs, <c>synthetic</c> and training-loop
    /// plug-ins read none of Sweeper's).
    /// </summary>
    private static IEnumerable<SpecLoader.SpecProblem> Dataset(SweepSpec spec)
    {
        if (SpecSchema.DataFreeModels.Contains(spec.Trainable.Model)) return [];
        if (spec.Trainable.Plugin is { } plugin && IsTrainingLoop(plugin)) return [];
        return DatasetFactory.Check(spec.Trainable.Dataset).Select(problem => new SpecLoader.SpecProblem("trainable.dataset.path", problem));
    }

    /// <summary>Whether the plug-in is a whole training loop (false when it does not load: <see cref="Plugin"/> says why).</summary>
    private static bool IsTrainingLoop(Sweeper.Core.Spec.ModelPluginSpec plugin)
    {
        try { return PluginLoader.KindOf(plugin) == PluginKind.Trainable; }
        catch (PluginLoadException) { return false; }
    }
}
