using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Hosting;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;

namespace Sweeper.Cli.Running;

public sealed record NodeOptions(string Hostname = "127.0.0.1", int Port = 0);

/// <summary>Runs a whole sweep in this process: a one-node cluster holding the coordinator and a worker.</summary>
public static class SweepHost
{
    /// <param name="onTrial">Called (on an actor thread) for every change of a trial.</param>
    public static async Task<SweepResult> RunAsync(SweepSpec spec, IReadOnlyList<TrialConfig> trials, ITrainableFactory factory, NodeOptions node,
        Action<TrialResult> onTrial, Action<string>? onStarted, CancellationToken cancel)
    {
        var done = new TaskCompletionSource<SweepResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddAkka(SweeperHosting.SystemName, (akka, _) => akka
            .AddSweeperCluster(node.Hostname, node.Port, [SweeperRoles.Coordinator, SweeperRoles.Worker], [])
            .AddSweeperCoordinator(spec, trials)
            .AddSweeperWorker(spec.Resources.MaxConcurrentTrials, factory));
        using var host = builder.Build();
        await host.StartAsync(CancellationToken.None);
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var registry = host.Services.GetRequiredService<ActorRegistry>();
            var proxy = await registry.GetAsync<CoordinatorProxy>();
            onStarted?.Invoke(((ExtendedActorSystem)system).Provider.DefaultAddress.ToString());
            system.ActorOf(SweepWatcherActor.Props(proxy, onTrial, r => done.TrySetResult(r)), "sweep-watcher");
            await using (cancel.Register(() => proxy.Tell(new SweepQueries.CancelSweep("cancelled by the user"))))
                return await done.Task;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }
}
