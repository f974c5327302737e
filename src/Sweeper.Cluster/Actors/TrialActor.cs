using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Sweeper.Cluster.Journal;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Telemetry;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// Owns one assignment of one trial. The trainable runs on a trial thread of its own while it runs (<see cref="TrialThreads"/>; TorchSharp dispose scopes are
/// thread-static, and a training step must not block the dispatcher); each epoch's result and each checkpoint come
/// back to this actor as messages and are forwarded to the coordinator. Stopping the actor cancels the run; the
/// stop-after-epoch token (see <see cref="WorkerCommands.StopAfterEpoch"/>) ends it after its current epoch and that
/// epoch's checkpoint instead, with <see cref="TrialEvents.TrialPaused"/>.
/// </summary>
public sealed class TrialActor : ReceiveActor
{
    private readonly WorkerCommands.AssignTrial _run;
    private readonly ITrainableFactory _factory;
    private readonly IActorRef _coordinator;
    private readonly string _node;
    private readonly IActorRef _worker;
    private readonly CheckpointStore _checkpoints;
    private readonly CancellationTokenSource _cancel = new();
    private readonly CancellationToken _stopAfterEpoch;
    private int _lastEpoch;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private Activity? _attempt;

    /// <param name="worker">Told when the run has ended (completed, failed for good, or stopped), so it can tell a give-up from a finish.</param>
    /// <param name="checkpoints">
    /// The store of <paramref name="run"/>'s checkpoint folder (default: a new one). Every actor the worker starts for
    /// this assignment — each restart after a crash — shares it, so a restart continues from the newest checkpoint this assignment saved,
    /// and writes into the same folder this assignment claimed.
    /// </param>
    /// <param name="stopAfterEpoch">
    /// Fires when the run is to stop gracefully: after its current epoch and that epoch's checkpoint. Shared like
    /// <paramref name="checkpoints"/>: a restart after a crash stops at once, from the newest checkpoint.
    /// </param>
    public static Props Props(WorkerCommands.AssignTrial run, ITrainableFactory factory, IActorRef coordinator, string node, IActorRef? worker = null,
        CheckpointStore? checkpoints = null, CancellationToken stopAfterEpoch = default)
    {
        var store = checkpoints ?? new CheckpointStore(run.CheckpointDir, run.CheckpointKeep);
        var ended = worker ?? ActorRefs.Nobody;
        // A producer rather than Props.Create(() => new TrialActor(...)): an expression's arguments are taken apart by
        // reflection every time, and a worker creates these props for every trial.
        return Akka.Actor.Props.CreateBy(new Producer(() => new TrialActor(run, factory, coordinator, node, ended, store, stopAfterEpoch)), typeof(TrialActor));
    }

    private sealed class Producer(Func<TrialActor> create) : IIndirectActorProducer
    {
        public Type ActorType => typeof(TrialActor);
        public ActorBase Produce() => create();
        public void Release(ActorBase actor) { }
    }

    /// <summary>To the worker: this trial's run is over and needs no further restart.</summary>
    public sealed record RunEnded(TrialId Id, int Assignment) : INoSerializationVerificationNeeded;

    /// <summary>To the worker: this run crashed with <paramref name="Error"/> (it may be retried, or given up on).</summary>
    public sealed record RunCrashedNote(TrialId Id, int Assignment, string Error) : INoSerializationVerificationNeeded;

    /// <summary>
    /// Thrown to the supervisor (the worker) when the trainable crashed, so that it starts the run again after its backoff. It carries the
    /// trainable's error as its message and no stack trace of its own: Akka logs it, and the place in this actor that
    /// threw it tells a user nothing.
    /// </summary>
    public sealed class TrialCrashedException(string message) : Exception(message)
    {
        public override string? StackTrace => null;
    }

    public static string NameOf(TrialId id) => $"trial-{id}";

    public TrialActor(WorkerCommands.AssignTrial run, ITrainableFactory factory, IActorRef coordinator, string node, IActorRef worker, CheckpointStore checkpoints,
        CancellationToken stopAfterEpoch = default)
    {
        _stopAfterEpoch = stopAfterEpoch;
        _worker = worker;
        _checkpoints = checkpoints;
        _run = run;
        _factory = factory;
        _coordinator = coordinator;
        _node = node;
        var id = run.Config.Id;

        Receive<Started>(m =>
        {
            _coordinator.Tell(new TrialEvents.TrialStarted(id, run.Assignment, _node, m.FromEpoch));
            if (m.FellBack is { } note)
            {
                // Recorded with the trial's crashes (the results show it), without a restart: the run goes on.
                _log.Warning("Trial {0}: {1}", id, note);
                _attempt?.AddEvent(new ActivityEvent("trial.checkpoint_fallback", tags: new ActivityTagsCollection { [SweeperTelemetry.Tags.Reason] = note }));
                _coordinator.Tell(new TrialEvents.TrialCrashed(id, run.Assignment, note, m.FromEpoch));
            }
        });
        Receive<EpochDone>(m =>
        {
            _lastEpoch = m.Result.Epoch;
            _coordinator.Tell(new TrialEvents.EpochCompleted(id, run.Assignment, m.Result));
        });
        Receive<CheckpointDone>(m => _coordinator.Tell(new TrialEvents.CheckpointSaved(id, run.Assignment, m.Checkpoint, m.Healthy)));
        Receive<WorkerCommands.CheckpointRecorded>(m => { if (m.Id == id && m.Assignment == run.Assignment) _checkpoints.Recorded(id, m.Assignment, m.Epoch); });
        Receive<Unstable>(m =>
        {
            _attempt?.SetTag("sweeper.stability.verdict", m.Verdict.Kind.ToString().ToLowerInvariant());
            _coordinator.Tell(new TrialEvents.TrialUnstable(id, run.Assignment, m.Verdict, _lastEpoch, m.Flips));
            _worker.Tell(new RunEnded(id, run.Assignment));
            Context.Stop(Self);
        });
        Receive<Paused>(m =>
        {
            _attempt?.AddEvent(new ActivityEvent("trial.paused", tags: new ActivityTagsCollection { [SweeperTelemetry.Tags.Epoch] = (long)m.AfterEpoch }));
            _coordinator.Tell(new TrialEvents.TrialPaused(id, run.Assignment, m.AfterEpoch));
            _worker.Tell(new RunEnded(id, run.Assignment));
            Context.Stop(Self);
        });
        Receive<RunFinished>(_ =>
        {
            _coordinator.Tell(new TrialEvents.TrialCompleted(id, run.Assignment));
            _worker.Tell(new RunEnded(id, run.Assignment));
            Context.Stop(Self);
        });
        Receive<RunCrashed>(m =>
        {
            _log.Warning("Trial {0} crashed: {1}", id, m.Error);
            _attempt?.SetStatus(ActivityStatusCode.Error, m.Error);
            _attempt?.AddEvent(new ActivityEvent("trial.crash", tags: new ActivityTagsCollection { [SweeperTelemetry.Tags.Reason] = m.Error }));
            _coordinator.Tell(new TrialEvents.TrialCrashed(id, run.Assignment, m.Error, _lastEpoch));
            _worker.Tell(new RunCrashedNote(id, run.Assignment, m.Error));
            throw new TrialCrashedException(m.Error); // the worker starts the run again after its backoff, or gives up
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
        TrialThreads.Shared.Run(() => Run(self, token));
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
            var context = new TrialContext(_checkpoints.FolderOf(_run.Config.Id), _run.Assignment);
            var trainable = _factory.Create(_run.Config, context);
            using var disposeTrainable = new Disposer(() => trainable.Dispose());
            CheckpointRef? loaded = null;
            string? fellBack = null;
            if (NewestCheckpoint() is { } resume && trainable is ICheckpointable)
            {
                // A checkpoint that cannot be loaded falls back to the one before it (into a fresh trainable), and says so.
                var restored = CheckpointStore.Restore(_run.Config.Id, resume, path => ((ICheckpointable)trainable).LoadCheckpoint(path), () =>
                {
                    trainable.Dispose();
                    trainable = _factory.Create(_run.Config, context);
                }, token);
                (loaded, fellBack) = (restored.Loaded, restored.FellBack);
            }
            int from = loaded?.Epoch ?? 0;
            self.Tell(new Started(from, fellBack));
            int interval = _run.CheckpointInterval;
            var parent = _attempt?.Context ?? default;
            // The stability monitor judges every step on this thread; a verdict the policy acts on ends the attempt.
            using var unstable = CancellationTokenSource.CreateLinkedTokenSource(token);
            var supervision = StepSupervision.Attach(trainable, _run, _attempt, unstable);
            long epochStartStep = 0;
            var metricSets = new MetricSets();
            int checkpointed = from; // the newest epoch this run has a checkpoint of
            for (int epoch = from + 1; epoch <= trainable.TotalEpochs; epoch++)
            {
                token.ThrowIfCancellationRequested();
                if (_stopAfterEpoch.IsCancellationRequested)
                {
                    // Stopping gracefully, between epochs: the finished epoch's checkpoint (whatever the interval), then stop.
                    if (epoch - 1 > checkpointed && interval > 0 && trainable is ICheckpointable last)
                        SaveCheckpoint(self, last, epoch - 1, parent, supervision?.HealthySince(epochStartStep) ?? true, loaded);
                    self.Tell(new Paused(epoch - 1));
                    return;
                }
                epochStartStep = supervision?.LastStep + 1 ?? 0;
                using var epochSpan = SweeperTelemetry.Recording // the tags (an array, the id's text, a boxed epoch) only when spans are recorded
                    ? SweeperTelemetry.StartDetached(SweeperTelemetry.Spans.Epoch, parent, ActivityKind.Internal,
                        [new(SweeperTelemetry.Tags.TrialId, _run.Config.Id.ToString()), new(SweeperTelemetry.Tags.Epoch, (long)epoch)])
                    : null;
                EpochResult result;
                try
                {
                    result = trainable.RunEpoch(epoch, unstable.Token);
                    // Sent as the coordinator keeps it (a compact set): the trainable's dictionary dies here, young.
                    result = result with { Metrics = metricSets.Compact(result.Metrics) };
                }
                catch (OperationCanceledException) when (supervision?.Verdict is { } verdict && !token.IsCancellationRequested)
                {
                    epochSpan?.SetTag("sweeper.stability.verdict", verdict.Kind.ToString().ToLowerInvariant());
                    self.Tell(new Unstable(verdict, supervision.Flips));
                    return;
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
                if (supervision?.Verdict is { } late)
                {
                    // Found in the epoch's last step: the epoch's (unhealthy) metrics are kept, then the policy decides.
                    epochSpan?.SetTag("sweeper.stability.verdict", late.Kind.ToString().ToLowerInvariant());
                    self.Tell(new Unstable(late, supervision.Flips));
                    return;
                }
                if (interval > 0 && trainable is ICheckpointable saver && (epoch % interval == 0 || epoch == trainable.TotalEpochs))
                {
                    SaveCheckpoint(self, saver, epoch, epochSpan?.Context ?? parent, supervision?.HealthySince(epochStartStep) ?? true, loaded);
                    checkpointed = epoch;
                }
            }
            self.Tell(RunFinished.Instance);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopped on purpose: the actor is gone and nobody waits for an answer.
            _worker.Tell(new RunEnded(_run.Config.Id, _run.Assignment));
        }
        catch (Exception ex)
        {
            self.Tell(new RunCrashed($"{ex.GetType().Name}: {ex.Message}"));
        }
    }

    /// <summary>
    /// Saves the checkpoint after <paramref name="epoch"/> — atomically and durably (whole or absent, on disk before the
    /// coordinator hears of it) into this assignment's own folder, remembered as this assignment's — and reports it.
    /// </summary>
    private void SaveCheckpoint(IActorRef self, ICheckpointable saver, int epoch, ActivityContext parent, bool healthy, CheckpointRef? loaded)
    {
        using var checkpointSpan = SweeperTelemetry.StartDetached(SweeperTelemetry.Spans.Checkpoint, parent);
        var saved = _checkpoints.Save(_run.Config.Id, _run.Assignment, epoch, path => saver.SaveCheckpoint(path, epoch), healthy, loaded);
        checkpointSpan?.SetTag("sweeper.checkpoint.path", saved.Path);
        checkpointSpan?.SetTag("sweeper.checkpoint.healthy", healthy);
        self.Tell(new CheckpointDone(saved, healthy));
    }

    /// <summary>
    /// Where to continue: the assigned checkpoint, or a newer one this trial saved on this assignment before a crash
    /// (never a file a later rollback made stale).
    /// </summary>
    private CheckpointRef? NewestCheckpoint() =>
        _run.CheckpointInterval <= 0 ? _run.ResumeFrom : _checkpoints.Resume(_run.Config.Id, _run.Assignment, _run.ResumeFrom);

    private sealed class Disposer(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }

    private sealed record Started(int FromEpoch, string? FellBack) : INoSerializationVerificationNeeded;

    private sealed record EpochDone(EpochResult Result) : INoSerializationVerificationNeeded;

    private sealed record CheckpointDone(CheckpointRef Checkpoint, bool Healthy) : INoSerializationVerificationNeeded;

    private sealed record Unstable(Core.Stability.StabilityVerdict Verdict, long Flips) : INoSerializationVerificationNeeded;

    private sealed record Paused(int AfterEpoch) : INoSerializationVerificationNeeded;

    private sealed record RunFinished : INoSerializationVerificationNeeded
    {
        public static readonly RunFinished Instance = new();
    }

    private sealed record RunCrashed(string Error) : INoSerializationVerificationNeeded;
}
