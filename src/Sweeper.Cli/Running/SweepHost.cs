using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Hosting;
using Sweeper.Cluster.Journal;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;

namespace Sweeper.Cli.Running;

/// <param name="LocalWorker">Run a worker in this process too (off: a coordinator only; workers join with <c>sweeper worker</c>).</param>
/// <param name="Slots">Trial slots of the local worker (null: the spec's max_concurrent_trials).</param>
/// <param name="Tls">Mutual TLS for remoting (null: plain TCP).</param>
/// <param name="Management">Akka.Management: health endpoints, contact point, and for a worker its discovery (null: none).</param>
/// <param name="ThreadsPerTrial">Intra-op threads of each trial of this node's worker (null: <see cref="IntraOpThreads.Auto"/>).</param>
public sealed record NodeOptions(string Hostname = "127.0.0.1", int Port = 0, bool LocalWorker = true, int? Slots = null, TlsOptions? Tls = null,
    ManagementOptions? Management = null, int? ThreadsPerTrial = null)
{
    /// <summary>The slots of this node's local worker for <paramref name="spec"/>: <see cref="Slots"/>, else the spec's max_concurrent_trials.</summary>
    public int LocalSlots(SweepSpec spec) => Slots ?? spec.Resources.MaxConcurrentTrials;

    /// <summary>The intra-op threads each trial of a worker with <paramref name="slots"/> slots gets on this machine.</summary>
    public int TrialThreads(int slots) => ThreadsPerTrial ?? IntraOpThreads.Auto(slots, Environment.ProcessorCount);

    /// <summary>The trainables a worker of <paramref name="slots"/> slots creates: <paramref name="factory"/>'s, with <see cref="TrialThreads"/>.</summary>
    public ITrainableFactory WorkerFactory(ITrainableFactory factory, int slots) => IntraOpThreads.For(factory, TrialThreads(slots));
}

/// <summary>Hosts a sweep's coordinator node (and, by default, a worker in the same process) until the sweep ends.</summary>
public static class SweepHost
{
    /// <param name="onTrial">Called (on an actor thread) for every change of a trial.</param>
    /// <param name="onStarted">Called with this node's address once it is up.</param>
    /// <param name="cancel">Interrupts the sweep at once (Ctrl+C, SIGTERM): its trials continue on resume.</param>
    /// <param name="onStopRequest">
    /// When given, the coordinator's run directory is watched for stop requests (<c>sweeper stop</c>, see
    /// <see cref="StopRequestWatch"/>): each one taken interrupts the sweep as it asks, then is handed to this callback,
    /// as is a stale or malformed one that was ignored.
    /// </param>
    public static async Task<SweepResult> RunAsync(SweepSpec spec, ITrialSource source, CoordinatorOptions coordinator,
        ITrainableFactory factory, NodeOptions node, Action<TrialRecord> onTrial, Action<string>? onStarted, CancellationToken cancel,
        Action<StopRequest.Found>? onStopRequest = null)
    {
        var done = new TaskCompletionSource<SweepResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        coordinator = coordinator with { OnFatal = failure => done.TrySetException(new CoordinatorFailedException(failure)) };
        string[] roles = node.LocalWorker ? [SweeperRoles.Coordinator, SweeperRoles.Worker] : [SweeperRoles.Coordinator];
        using var host = SweeperHosting.BuildHost(akka =>
        {
            akka.AddSweeperCluster(node.Hostname, node.Port, roles, [], node.Tls, node.Management).AddSweeperCoordinator(spec, source, coordinator);
            if (node.LocalWorker)
            {
                int slots = node.LocalSlots(spec);
                akka.AddSweeperWorker(slots, node.WorkerFactory(factory, slots));
            }
        });
        await host.StartAsync(CancellationToken.None);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            await StartManagementAsync(system, host.Services, node);
            var registry = host.Services.GetRequiredService<ActorRegistry>();
            var proxy = await registry.GetAsync<CoordinatorProxy>();
            onStarted?.Invoke(((ExtendedActorSystem)system).Provider.DefaultAddress.ToString());
            system.ActorOf(SweepWatcherActor.Props(proxy, onTrial, r => done.TrySetResult(r)), "sweep-watcher");
            await using var stopRequests = onStopRequest is not null && coordinator.RunDirectory is { } dir
                ? StopRequestWatch.Start(RunDirectory.At(dir), found =>
                {
                    if (found.Request is { } request) proxy.Tell(new SweepQueries.CancelSweep(request.Reason, Graceful: !request.Now));
                    onStopRequest(found);
                })
                : null;
            await using (cancel.Register(() => proxy.Tell(new SweepQueries.CancelSweep("cancelled by the user"))))
                return await done.Task;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// Runs a worker-only node that joins <paramref name="seed"/> (null: the cluster its management's discovery finds) and
    /// serves until the coordinator leaves, <paramref name="cancel"/> fires, or the worker fences itself (cut off from the
    /// coordinator: returns why).
    /// </summary>
    public static async Task<string?> RunWorkerAsync(string? seed, int slots, ITrainableFactory factory, NodeOptions node, Action<string>? onStarted, CancellationToken cancel)
    {
        var fenced = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var host = SweeperHosting.BuildHost(akka => akka
            .AddSweeperCluster(node.Hostname, node.Port, [SweeperRoles.Worker], seed is null ? [] : [seed], node.Tls, node.Management)
            .AddSweeperWorker(slots, node.WorkerFactory(factory, slots), leaveWithCoordinator: true, onFenced: reason => fenced.TrySetResult(reason)));
        await host.StartAsync(CancellationToken.None);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            await StartManagementAsync(system, host.Services, node);
            onStarted?.Invoke(((ExtendedActorSystem)system).Provider.DefaultAddress.ToString());
            await Task.WhenAny(system.WhenTerminated, fenced.Task).WaitAsync(cancel).ContinueWith(_ => { }, TaskScheduler.Default);
            return fenced.Task.IsCompleted ? fenced.Task.Result : null;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Starts the node's management endpoint (and Cluster Bootstrap), if it has one.</summary>
    private static async Task StartManagementAsync(ActorSystem system, IServiceProvider services, NodeOptions node)
    {
        if (node.Management is not { } management) return;
        try { await SweeperManagement.StartAsync(system, services, management); }
        catch (InvalidOperationException ex)
        {
            throw new ManagementStartException($"the management endpoint {management.Hostname}:{management.Port} could not start: {(ex.InnerException ?? ex).Message}", ex);
        }
    }
}

/// <summary>The node's Akka.Management endpoint could not start (its port is taken, its address is not this machine's).</summary>
public sealed class ManagementStartException(string message, Exception inner) : Exception(message, inner);
