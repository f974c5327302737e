using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Telemetry;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// Owns one assignment of one trial. The trainable runs on a dedicated thread (TorchSharp dispose scopes are
/// thread-static, and a training step must not block the dispatcher); each epoch's result and each checkpoint come
/// back to this actor as messages and are forwarded to the coordinator. Stopping the actor cancels the run.
/// </summary>
public sealed class TrialActor : ReceiveActor
{
    private readonly WorkerCommands.AssignTrial _run;
    private readonly ITrainableFactory _factory;
    private readonly IActorRef _coordinator;
    private readonly string _node;
    private readonly CancellationTokenSource _cancel = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private Activity? _attempt;

    public static Props Props(WorkerCommands.AssignTrial run, ITrainableFactory factory, IActorRef coordinator, string node) =>
        Akka.Actor.Props.Create(() => new TrialActor(run, factory, coordinator, node));

    public static string NameOf(TrialId id) => $"trial-{id}";

    /// <summary>Where the checkpoint of <paramref name="id"/> after <paramref name="epoch"/> is written.</summary>
    public static string CheckpointPath(string dir, TrialId id, int epoch) => Path.Combine(dir, id.ToString(), $"epoch-{epoch:D4}.ckpt");

    public TrialActor(WorkerCommands.AssignTrial run, ITrainableFactory factory, IActorRef coordinator, string node)
    {
        _run = run;
        _factory = factory;
        _coordinator = coordinator;
        _node = node;
        var id = run.Config.Id;

        Receive<Started>(m => _coordinator.Tell(new TrialEvents.TrialStarted(id, run.Assignment, _node, m.FromEpoch)));
        Receive<EpochDone>(m => _coordinator.Tell(new TrialEvents.EpochCompleted(id, run.Assignment, m.Result)));
        Receive<CheckpointDone>(m => _coordinator.Tell(new TrialEvents.CheckpointSaved(id, run.Assignment, m.Checkpoint)));
        Receive<RunFinished>(_ =>
        {
            _coordinator.Tell(new TrialEvents.TrialCompleted(id, run.Assignment));
            Context.Stop(Self);
        });
        Receive<RunCrashed>(m =>
        {
            _log.Warning("Trial {0} failed: {1}", id, m.Error);
            _attempt?.SetStatus(ActivityStatusCode.Error, m.Error);
            _coordinator.Tell(new TrialEvents.TrialFailed(id, run.Assignment, m.Error));
            Context.Stop(Self);
        });
    }

    protected override void PreStart()
    {
        _attempt = SweeperTelemetry.StartDetached(SweeperTelemetry.Spans.Attempt, SweeperTelemetry.Parse(_run.TraceParent), ActivityKind.Internal,
        [
            new(SweeperTelemetry.Tags.TrialId, _run.Config.Id.ToString()),
            new(SweeperTelemetry.Tags.Attempt, (long)_run.Assignment),
            new(SweeperTelemetry.Tags.Node, _node),
            new(SweeperTelemetry.Tags.ResumedFromEpoch, (long)(_run.ResumeFrom?.Epoch ?? 0)),
        ]);
        var self = Self;
        var token = _cancel.Token;
        var thread = new Thread(() => Run(self, token)) { IsBackground = true, Name = $"sweeper-{_run.Config.Id}" };
        thread.Start();
    }

    protected override void PostStop()
    {
        _cancel.Cancel();
        _attempt?.Dispose();
    }

    private void Run(IActorRef self, CancellationToken token)
    {
        try
        {
            using var trainable = _factory.Create(_run.Config);
            int from = 0;
            if (_run.ResumeFrom is { } resume && trainable is ICheckpointable loadable)
                from = loadable.LoadCheckpoint(resume.Path);
            self.Tell(new Started(from));
            int interval = _run.CheckpointInterval;
            var parent = _attempt?.Context ?? default;
            for (int epoch = from + 1; epoch <= trainable.TotalEpochs; epoch++)
            {
                token.ThrowIfCancellationRequested();
                using var epochSpan = SweeperTelemetry.StartDetached(SweeperTelemetry.Spans.Epoch, parent, ActivityKind.Internal,
                    [new(SweeperTelemetry.Tags.TrialId, _run.Config.Id.ToString()), new(SweeperTelemetry.Tags.Epoch, (long)epoch)]);
                EpochResult result;
                try
                {
                    result = trainable.RunEpoch(epoch, token);
                }
                catch (OperationCanceledException)
                {
                    epochSpan?.SetTag("sweeper.cancelled", true); // stopped by the scheduler or the sweep mid-epoch
                    throw;
                }
                catch (Exception ex)
                {
                    epochSpan?.SetStatus(ActivityStatusCode.Error, ex.Message);
                    throw;
                }
                EpochTelemetry.Record(epochSpan, _run.Config.Id, result);
                self.Tell(new EpochDone(result));
                if (interval > 0 && trainable is ICheckpointable saver && (epoch % interval == 0 || epoch == trainable.TotalEpochs))
                {
                    using var checkpointSpan = SweeperTelemetry.StartDetached(SweeperTelemetry.Spans.Checkpoint, epochSpan?.Context ?? parent);
                    var path = CheckpointPath(_run.CheckpointDir, _run.Config.Id, epoch);
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    var tmp = path + ".tmp";
                    saver.SaveCheckpoint(tmp, epoch);
                    File.Move(tmp, path, overwrite: true); // a checkpoint is either whole or absent
                    checkpointSpan?.SetTag("sweeper.checkpoint.path", path);
                    self.Tell(new CheckpointDone(new CheckpointRef(epoch, path)));
                }
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

    private sealed record Started(int FromEpoch) : INoSerializationVerificationNeeded;

    private sealed record EpochDone(EpochResult Result) : INoSerializationVerificationNeeded;

    private sealed record CheckpointDone(CheckpointRef Checkpoint) : INoSerializationVerificationNeeded;

    private sealed record RunFinished : INoSerializationVerificationNeeded
    {
        public static readonly RunFinished Instance = new();
    }

    private sealed record RunCrashed(string Error) : INoSerializationVerificationNeeded;
}
