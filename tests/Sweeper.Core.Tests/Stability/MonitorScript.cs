using System.Globalization;
using Sweeper.Core.Stability;
using Sweeper.Core.Model;

namespace Sweeper.Core.Tests.Stability;

/// <summary>
/// Feeds a monitor a script and returns one letter per step: W (healthy, warming up), H (healthy),
/// O (oscillating), D (drifting), X (diverged).
/// </summary>
/// <remarks>
/// Scripts are space-separated, one token per step. Exponents: layers separated by '|', channels by ','
/// ("0,1|-3": layer a with channels [0, 1], layer b with [-3]); "_" for a float model. Losses and gradient
/// norms: numbers, nan, inf, -inf; "-" for no gradient norm. A missing loss script means loss 1 at every step.
/// Steps are numbered from <c>firstStep</c>.
/// </remarks>
internal static class MonitorScript
{
    public static (string Letters, List<StabilityVerdict> Verdicts) Run(
        StabilityMonitor monitor, string? exponents = null, string? losses = null, string? grads = null, long firstStep = 0)
    {
        var e = Tokens(exponents);
        var l = Tokens(losses);
        var g = Tokens(grads);
        int steps = Math.Max(e.Length, Math.Max(l.Length, g.Length));
        var verdicts = new List<StabilityVerdict>();
        for (int i = 0; i < steps; i++)
        {
            var observation = new StepObservation(
                firstStep + i,
                i < l.Length ? Number(l[i]) : 1.0,
                i < g.Length && g[i] != "-" ? Number(g[i]) : null,
                i < e.Length ? Layers(e[i]) : null);
            verdicts.Add(monitor.Observe(observation));
        }
        return (string.Concat(verdicts.Select(Letter)), verdicts);
    }

    public static char Letter(StabilityVerdict v) => v.Kind switch
    {
        StabilityKind.Healthy => v.WarmingUp ? 'W' : 'H',
        StabilityKind.Oscillating => 'O',
        StabilityKind.Drifting => 'D',
        StabilityKind.Diverged => 'X',
        _ => '?',
    };

    public static LayerExponents[]? Layers(string token) =>
        token == "_" ? null
        : token.Split('|').Select((layer, i) => new LayerExponents(((char)('a' + i)).ToString(),
            layer.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray())).ToArray();

    public static double Number(string token) => token switch
    {
        "nan" => double.NaN,
        "inf" => double.PositiveInfinity,
        "-inf" => double.NegativeInfinity,
        _ => double.Parse(token, CultureInfo.InvariantCulture),
    };

    private static string[] Tokens(string? script) => script?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
}
