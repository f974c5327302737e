using Akka.Actor;
using Akka.Event;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// Owns one trial run. The trainable runs on a dedicated thread (TorchSharp dispose scopes are thread-static, and a
/// training step must not block the dispatcher); each epoch's result comes back to this actor as a message and is
/// forwarded to the coordinator. Stopping the actor cancels the run.
/// </summary>
public sealed class TrialActor : ReceiveActor
{
    private readonly TrialConfig _config;
    private readonly ITrainableFactory _factory;
    private readonly IActorRef _coordinator;
    private readonly string _node;
    private readonly CancellationTokenSource _cancel = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public static Props Props(TrialConfig config, ITrainableFactory factory, IActorRef coordinator, string node) =>
        Akka.Actor.Props.Create(() => new TrialActor(config, factory, coordinator, node));

    public static string NameOf(TrialId id) => $"trial-{id}";

    public TrialActor(TrialConfig config, ITrainableFactory factory, IActorRef coordinator, string node)
    {
        _config = config;
        _factory = factory;
        _coordinator = coordinator;
        _node = node;

        Receive<EpochDone>(m => _coordinator.Tell(new TrialEvents.EpochCompleted(_config.Id, m.Result)));
        Receive<RunFinished>(_ =>
        {
            _coordinator.Tell(new TrialEvents.TrialCompleted(_config.Id));
            Context.Stop(Self);
        });
        Receive<RunCrashed>(m =>
        {
            _log.Warning("Trial {0} failed: {1}", _config.Id, m.Error);
            _coordinator.Tell(new TrialEvents.TrialFailed(_config.Id, m.Error));
            Context.Stop(Self);
        });
    }

    protected override void PreStart()
    {
        _coordinator.Tell(new TrialEvents.TrialStarted(_config.Id, _node));
        var self = Self;
        var token = _cancel.Token;
        var thread = new Thread(() => Run(self, token)) { IsBackground = true, Name = $"sweeper-{_config.Id}" };
        thread.Start();
    }

    protected override void PostStop() => _cancel.Cancel();

    private void Run(IActorRef self, CancellationToken token)
    {
        try
        {
            using var trainable = _factory.Create(_config);
            for (int epoch = 1; epoch <= trainable.TotalEpochs; epoch++)
            {
                token.ThrowIfCancellationRequested();
                self.Tell(new EpochDone(trainable.RunEpoch(epoch, token)));
            }
            self.Tell(RunFinished.Instance);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopped on purpose: the actor is gone and nobody waits for an answer.
        }
        catch (Exception ex)
        {
            self.Tell(new RunCrashed($"{ex.GetType().Name}: {ex.Message}"));
        }
    }

    private sealed record EpochDone(EpochResult Result) : INoSerializationVerificationNeeded;

    private sealed record RunFinished : INoSerializationVerificationNeeded
    {
        public static readonly RunFinished Instance = new();
    }

    private sealed record RunCrashed(string Error) : INoSerializationVerificationNeeded;
}
