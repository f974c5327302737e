using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Core.Scheduling;

/// <summary>First in, first out: every trial runs to the end (Ray Tune's <c>FIFOScheduler</c>).</summary>
public sealed class FifoScheduler : ITrialScheduler
{
    public string Name => "fifo";

    public SchedulerDecision OnResult(TrialId trial, int iteration, double value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(iteration);
        return SchedulerDecision.Continue("fifo: trials always run to the end");
    }
}
