using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Hosting;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Sweep;

namespace Sweeper.Cluster.Tests.Hosting;

/// <summary>One Sweeper node (an ActorSystem with remoting on 127.0.0.1) wired with the production extension methods.</summary>
public sealed class TestNode : IAsyncDisposable
{
    private readonly IHost _host;

    private TestNode(IHost host) => _host = host;

    public ActorSystem System => _host.Services.GetRequiredService<ActorSystem>();
    public ActorRegistry Registry => _host.Services.GetRequiredService<ActorRegistry>();
    public IServiceProvider Services => _host.Services;
    public string Address => ((ExtendedActorSystem)System).Provider.DefaultAddress.ToString();

    public static async Task<TestNode> StartAsync(Action<AkkaConfigurationBuilder> configure)
    {
        var host = SweeperHosting.BuildHost(akka =>
        {
            akka.AddHocon("akka.actor.serialize-messages = on", HoconAddMode.Prepend);
            configure(akka);
        });
        await host.StartAsync();
        return new TestNode(host);
    }

    public static Task<TestNode> CoordinatorAsync(SweepSpec spec, IReadOnlyList<TrialConfig> trials, TlsOptions? tls = null) =>
        StartAsync(a => a.AddSweeperCluster("127.0.0.1", 0, [SweeperRoles.Coordinator], [], tls)
            .AddSweeperCoordinator(spec, new FixedTrialSource(trials), new CoordinatorOptions(null, Path.Combine(Path.GetTempPath(), "sweeper-ckpt-" + Guid.NewGuid().ToString("N")))));

    public static Task<TestNode> WorkerAsync(string seed, int slots, ITrainableFactory factory, TlsOptions? tls = null, Action<string>? onFenced = null) =>
        StartAsync(a => a.AddSweeperCluster("127.0.0.1", 0, [SweeperRoles.Worker], [seed], tls).AddSweeperWorker(slots, factory, leaveWithCoordinator: true, onFenced));

    /// <summary>Subscribes to the coordinator and returns the sweep's result when it completes.</summary>
    public async Task<SweepResult> WaitForSweepAsync(TimeSpan timeout)
    {
        var done = new TaskCompletionSource<SweepResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var proxy = await Registry.GetAsync<CoordinatorProxy>();
        System.ActorOf(SweepWatcherActor.Props(proxy, _ => { }, r => done.TrySetResult(r)));
        return await done.Task.WaitAsync(timeout);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
