using Akka.Actor;
using Sweeper.Core.Sweep;

namespace Sweeper.Cluster.Actors;

/// <summary>The coordinator's workers: each worker actor it has seen gets a <see cref="WorkerId"/> for the sweep state.</summary>
internal sealed class WorkerRegistry
{
    private readonly Dictionary<IActorRef, WorkerId> _ids = new();
    private readonly Dictionary<WorkerId, IActorRef> _actors = new();
    private int _next;

    /// <summary>The id of <paramref name="worker"/>; <paramref name="isNew"/> when it was not known before.</summary>
    public WorkerId Register(IActorRef worker, out bool isNew)
    {
        isNew = !_ids.TryGetValue(worker, out var id);
        if (!isNew) return id;
        id = new WorkerId(++_next);
        _ids[worker] = id;
        _actors[id] = worker;
        return id;
    }

    public bool Remove(IActorRef worker, out WorkerId id)
    {
        if (!_ids.Remove(worker, out id)) return false;
        _actors.Remove(id);
        return true;
    }

    public bool TryGet(WorkerId id, out IActorRef worker) => _actors.TryGetValue(id, out worker!);
}
