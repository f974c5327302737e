using Sweeper.Core.Spec;
using Sweeper.Training.Data;

namespace Sweeper.Cli.Running;

/// <summary>
/// The checks of a spec that need the compute half (the data set's files), run by every command that loads a spec to
/// run it, so a mistake is reported at its key before anything is written.
/// </summary>
public static class SpecChecks
{
    /// <summary>The loader options of <c>validate</c>, <c>plan</c>, <c>run</c> and <c>resume</c>.</summary>
    public static SpecLoader.Options Options { get; } = new() { Checks = [Dataset] };

    /// <summary>Each missing file of the data set, at <c>trainable.dataset.path</c> (programs and <c>synthetic</c> read none).</summary>
    private static IEnumerable<SpecLoader.SpecProblem> Dataset(SweepSpec spec) =>
        SpecSchema.DataFreeModels.Contains(spec.Trainable.Model)
            ? []
            : DatasetFactory.Check(spec.Trainable.Dataset).Select(problem => new SpecLoader.SpecProblem("trainable.dataset.path", problem));
}
