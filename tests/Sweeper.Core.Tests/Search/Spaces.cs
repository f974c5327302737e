using Sweeper.Core.Search;

namespace Sweeper.Core.Tests.Search;

/// <summary>Search spaces shared by the searcher tests.</summary>
internal static class Spaces
{
    /// <summary>optimizer (sgd|adam), lr (log), momentum only for sgd, beta2 only for adam.</summary>
    public static SearchSpace Conditional() => new(
        new ParameterDefinition("trainable.optimizer.name", ParameterDomain.Values("sgd", "adam")),
        new ParameterDefinition("trainable.optimizer.lr", ParameterDomain.LogUniform(1e-5, 1)),
        new ParameterDefinition("trainable.optimizer.momentum", ParameterDomain.Uniform(0, 0.99), ParameterCondition.On("trainable.optimizer.name", "sgd")),
        new ParameterDefinition("trainable.optimizer.beta2", ParameterDomain.Values(0.99, 0.999), ParameterCondition.On("trainable.optimizer.name", "adam")));

    /// <summary>A 3 × 2 grid: width (3 values, slowest) × batch size (2 values).</summary>
    public static SearchSpace Grid3x2() => new(
        new ParameterDefinition("trainable.width", ParameterDomain.Values(0.25, 0.5, 1.0)),
        new ParameterDefinition("trainable.batch_size", ParameterDomain.Values(32, 64)));

    public static string Describe(Suggestion? s) => s is null ? "<null>" : ParameterValues.Format(s.Parameters);
}
