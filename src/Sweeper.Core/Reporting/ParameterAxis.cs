using Sweeper.Core.Search;
using Sweeper.Core.Sweep;

namespace Sweeper.Core.Reporting;

/// <summary>How a swept parameter's values are laid out along an axis.</summary>
public enum ParameterAxisKind
{
    /// <summary>Numbers on a linear scale (uniform, int_uniform and normal domains).</summary>
    Linear,
    /// <summary>Positive numbers on a log₁₀ scale (log_uniform domains).</summary>
    Log,
    /// <summary>One position per choice, in the domain's order (values domains: strings, booleans, listed numbers).</summary>
    Categorical,
}

/// <summary>
/// One swept parameter as an axis of the report's parameter plots: its kind (from the spec's domain when known), its
/// scale over the values the trials had, and each trial's position on it.
/// </summary>
/// <remarks>
/// Without the spec's domain (a spec that no longer loads) the kind is read from the values: text and booleans are
/// categories, numbers are linear, or log when they are all positive and span three decades or more.
/// </remarks>
public sealed class ParameterAxis
{
    /// <summary>The category of a trial in which a conditional parameter was not active.</summary>
    public const string NotSet = "(not set)";

    private readonly IReadOnlyList<object?> _categories;

    private ParameterAxis(string key, ParameterAxisKind kind, AxisScale scale, bool integers, IReadOnlyList<object?> categories)
    {
        (Key, Kind, Scale, Integers, _categories) = (key, kind, scale, integers, categories);
    }

    /// <summary>The parameter's dotted key.</summary>
    public string Key { get; }
    public ParameterAxisKind Kind { get; }
    /// <summary>Linear over the values, log over the values, or the categories at 0, 1, … n − 1.</summary>
    public AxisScale Scale { get; }
    /// <summary>The values are whole numbers (int_uniform): ticks at whole numbers.</summary>
    public bool Integers { get; }

    /// <summary>
    /// Where <paramref name="trial"/>'s value lies on the axis: the number itself (linear, log) or its category's index;
    /// NaN when the trial has no value for a numeric parameter (not active) or a value a log axis cannot place.
    /// </summary>
    public double Position(TrialRecord trial)
    {
        var value = ValueOf(trial, Key);
        if (Kind != ParameterAxisKind.Categorical)
            return value is not null && ParameterValues.TryGetDouble(value, out var x) && (Kind != ParameterAxisKind.Log || x > 0) ? x : double.NaN;
        for (int i = 0; i < _categories.Count; i++)
            if (Same(_categories[i], value)) return i;
        return double.NaN;
    }

    /// <summary>
    /// The axes of <paramref name="result"/>'s swept parameters, in the order of the results table. A key's domain comes
    /// from <paramref name="definitions"/> (the spec's parameters) when it is there.
    /// </summary>
    public static IReadOnlyList<ParameterAxis> For(SweepResult result, IReadOnlyList<ParameterDefinition>? definitions = null) =>
        GroupTable.ParameterKeys(result)
            .Select(key => For(key, result.Trials.Select(t => ValueOf(t, key)).ToList(), definitions?.FirstOrDefault(d => d.Key == key)?.Domain))
            .ToList();

    private static ParameterAxis For(string key, IReadOnlyList<object?> values, ParameterDomain? domain)
    {
        var present = values.OfType<object>().ToList();
        var numbers = present.Select(v => ParameterValues.TryGetDouble(v, out var x) ? x : double.NaN).ToList();
        bool allNumbers = present.Count > 0 && numbers.All(double.IsFinite);
        var kind = domain switch
        {
            ValuesDomain => ParameterAxisKind.Categorical,
            LogUniformDomain when numbers.All(x => x > 0) => ParameterAxisKind.Log,
            UniformDomain or IntUniformDomain or NormalDomain or LogUniformDomain when allNumbers => ParameterAxisKind.Linear,
            _ when !allNumbers => ParameterAxisKind.Categorical,
            _ when numbers.Min() > 0 && numbers.Max() / numbers.Min() >= 1000 => ParameterAxisKind.Log,
            _ => ParameterAxisKind.Linear,
        };
        bool integers = domain is IntUniformDomain || (domain is null && allNumbers && present.All(v => v is long));
        switch (kind)
        {
            case ParameterAxisKind.Log:
                return new ParameterAxis(key, kind, AxisScale.Log(AxisRange.OfLog(numbers)), false, []);
            case ParameterAxisKind.Linear:
                return new ParameterAxis(key, kind, AxisScale.Linear(AxisRange.Of(numbers)), integers, []);
        }
        // Categories: the domain's choices in its order, then values it does not list (a spec changed since), then "not set".
        var categories = new List<object?>();
        if (domain is ValuesDomain choices) categories.AddRange(choices.Choices);
        var extra = present.Where(v => !categories.Any(c => Same(c, v))).ToList();
        if (domain is null && extra.All(v => ParameterValues.TryGetDouble(v, out _)))
            extra = extra.OrderBy(v => ParameterValues.TryGetDouble(v, out var x) ? x : 0).ToList();
        foreach (var v in extra)
            if (!categories.Any(c => Same(c, v))) categories.Add(v);
        if (values.Any(v => v is null)) categories.Add(null);
        var names = categories.Select(c => c is null ? NotSet : ResultTable.Format(c)).ToList();
        return new ParameterAxis(key, kind, AxisScale.Categories(names), false, categories);
    }

    private static bool Same(object? a, object? b) => a is null || b is null ? a is null && b is null : ParameterValues.AreEqual(a, b);

    private static object? ValueOf(TrialRecord trial, string key)
    {
        foreach (var p in trial.Config.Parameters)
            if (p.Key == key) return p.Value;
        return null;
    }
}
