using System.Globalization;
using Sweeper.Core.Scheduling;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Core.Tests.Scheduling;

/// <summary>
/// Runs a script of results such as <c>"a@1=0.5 b@1=nan b@2=-inf"</c> (trial@iteration=value)
/// through a scheduler and returns one letter per result: C (continue) or S (stop).
/// </summary>
internal static class SchedulerScript
{
    public static (string Letters, List<SchedulerDecision> Decisions) Run(ITrialScheduler scheduler, string script)
    {
        var decisions = new List<SchedulerDecision>();
        foreach (var token in script.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int at = token.IndexOf('@'), eq = token.IndexOf('=');
            var trial = new TrialId(token[0] - 'a');
            int iteration = int.Parse(token[(at + 1)..eq], CultureInfo.InvariantCulture);
            decisions.Add(scheduler.OnResult(trial, iteration, ParseValue(token[(eq + 1)..])));
        }
        return (string.Concat(decisions.Select(d => d.IsStop ? 'S' : 'C')), decisions);
    }

    private static double ParseValue(string text) => text switch
    {
        "nan" => double.NaN,
        "inf" => double.PositiveInfinity,
        "-inf" => double.NegativeInfinity,
        _ => double.Parse(text, CultureInfo.InvariantCulture),
    };
}
