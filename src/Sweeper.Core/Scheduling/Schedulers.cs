using Sweeper.Core.Spec;

namespace Sweeper.Core.Scheduling;

/// <summary>The scheduler a spec asks for.</summary>
public static class Schedulers
{
    public static ITrialScheduler Create(SweepSpec spec) => spec.Scheduler.Name switch
    {
        "asha" => new AshaScheduler(spec.Objective.Mode, new AshaOptions
        {
            GracePeriod = spec.Scheduler.GracePeriod,
            ReductionFactor = spec.Scheduler.ReductionFactor,
            MaxT = spec.Scheduler.MaxT ?? spec.Trainable.Epochs,
        }),
        "median_stopping" => new MedianStoppingScheduler(spec.Objective.Mode, new MedianStoppingOptions
        {
            GracePeriod = spec.Scheduler.GracePeriod,
            MinSamplesRequired = spec.Scheduler.MinSamplesRequired,
        }),
        _ => new FifoScheduler(),
    };
}
