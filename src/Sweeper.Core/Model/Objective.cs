namespace Sweeper.Core.Model;

public enum ObjectiveMode { Max, Min }

/// <summary>Turning objective values so that higher is always better (searchers, schedulers and rankings compare scores).</summary>
public static class ObjectiveModes
{
    /// <summary>+<paramref name="value"/> when maximising, −<paramref name="value"/> when minimising (its own inverse).</summary>
    public static double Orient(this ObjectiveMode mode, double value) => mode == ObjectiveMode.Max ? value : -value;

    /// <summary><see cref="Orient"/>, with NaN and ±∞ the worst score (−∞).</summary>
    public static double Rank(this ObjectiveMode mode, double value) => !double.IsFinite(value) ? double.NegativeInfinity : mode.Orient(value);
}

/// <summary>
/// What a sweep optimises: one metric, maximised or minimised. The only place that knows which way is better:
/// every ranking, target and comparison goes through <see cref="IsBetter"/>, <see cref="Score"/> or <see cref="Reached"/>.
/// </summary>
public sealed record ObjectiveSpec(string Metric, ObjectiveMode Mode)
{
    public bool HigherIsBetter => Mode == ObjectiveMode.Max;

    /// <summary>True when <paramref name="candidate"/> is strictly better than <paramref name="incumbent"/>; NaN is never better.</summary>
    public bool IsBetter(double candidate, double incumbent)
    {
        if (double.IsNaN(candidate)) return false;
        if (double.IsNaN(incumbent)) return true;
        return HigherIsBetter ? candidate > incumbent : candidate < incumbent;
    }

    /// <summary><paramref name="value"/> turned so that higher is better (−value when minimising); NaN stays NaN.</summary>
    public double Score(double value) => Mode.Orient(value);

    /// <summary>True when <paramref name="value"/> is at least as good as <paramref name="target"/>; NaN never reaches it.</summary>
    public bool Reached(double value, double target) => double.IsFinite(value) && (HigherIsBetter ? value >= target : value <= target);

    /// <summary><c>&gt;=</c> or <c>&lt;=</c>: how a value compares with a target it reached.</summary>
    public string ReachedSymbol => HigherIsBetter ? ">=" : "<=";
}
