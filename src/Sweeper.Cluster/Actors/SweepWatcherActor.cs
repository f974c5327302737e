using Akka.Actor;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// Bridges the coordinator's updates to code outside the actor system (the CLI's progress display): subscribes
/// through the coordinator proxy, and again every 2 s all along (the coordinator ignores a repeated subscription; a
/// coordinator started again, or moved to another node, learns of the watcher from it), and hands every update to callbacks.
/// </summary>
public sealed class SweepWatcherActor : ReceiveActor, IWithTimers
{
    private const string SubscribeTimer = "subscribe";

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef coordinatorProxy, Action<TrialRecord> onTrial, Action<SweepResult> onCompleted) =>
        Akka.Actor.Props.Create(() => new SweepWatcherActor(coordinatorProxy, onTrial, onCompleted));

    public SweepWatcherActor(IActorRef coordinatorProxy, Action<TrialRecord> onTrial, Action<SweepResult> onCompleted)
    {
        Receive<SweepQueries.Subscribe>(m => coordinatorProxy.Tell(m));
        Receive<SweepQueries.TrialUpdated>(m => onTrial(m.Trial));
        Receive<SweepQueries.SweepCompleted>(m =>
        {
            Timers.Cancel(SubscribeTimer);
            onCompleted(m.Result);
        });
    }

    protected override void PreStart()
    {
        Self.Tell(SweepQueries.Subscribe.Instance);
        Timers.StartPeriodicTimer(SubscribeTimer, SweepQueries.Subscribe.Instance, TimeSpan.FromSeconds(2));
    }
}
