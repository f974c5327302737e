using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Tools.Singleton;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Akka.Remote.Transport.DotNetty;
using Microsoft.Extensions.DependencyInjection;
using Sweeper.Cluster.Actors;
using Sweeper.Cluster.Serialization;
using Sweeper.Core.Spec;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Hosting;

/// <summary>Cluster roles of a Sweeper node.</summary>
public static class SweeperRoles
{
    public const string Coordinator = "coordinator";
    public const string Worker = "worker";
}

/// <summary>Registry key of the proxy through which any node reaches the coordinator singleton.</summary>
public sealed class CoordinatorProxy;

/// <summary>Akka.Hosting wiring shared by the CLI and the tests.</summary>
public static class SweeperHosting
{
    public const string SystemName = "sweeper";

    /// <summary>Remoting on <paramref name="hostname"/>:<paramref name="port"/> (0: any free port) and clustering with the given roles.</summary>
    /// <param name="seedNodes">Addresses to join, e.g. <c>akka.tcp://sweeper@127.0.0.1:4053</c>; empty: the node joins itself.</param>
    /// <param name="tls">Mutual TLS for remoting; null: plain TCP.</param>
    /// <param name="management">
    /// The health checks of the management endpoint (started by <see cref="SweeperManagement.StartAsync"/>); with its
    /// discovery, the node neither joins itself nor a seed: Akka Cluster Bootstrap joins the cluster a contact point belongs to.
    /// </param>
    public static AkkaConfigurationBuilder AddSweeperCluster(this AkkaConfigurationBuilder builder, string hostname, int port, IReadOnlyList<string> roles, IReadOnlyList<string> seedNodes, TlsOptions? tls = null,
        ManagementOptions? management = null)
    {
        if (management?.Discovery is not null && seedNodes.Count > 0)
            throw new ArgumentException("a node joins either its seed nodes or the cluster discovery finds, not both", nameof(seedNodes));
        builder
            .AddHocon("""
                akka.loglevel = ERROR
                akka.stdout-loglevel = ERROR
                akka.log-dead-letters = 0
                akka.log-dead-letters-during-shutdown = off
                akka.cluster.log-info = off
                akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
                akka.remote.dot-netty.tcp.maximum-frame-size = 8MiB
                # An unreachable worker is downed (its trials are queued again); the oldest node, where the
                # coordinator runs, survives a partition. Sized for training nodes with every core busy: a node
                # is unreachable after 10 s without heartbeats, and downed 7 s later if it stays so (a dead node
                # is downed within about 20 s). A worker cut off from the coordinator for as long fences itself
                # (WorkerFenceActor): it stops its trials before they run elsewhere. README: "add machines".
                akka.cluster.downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
                akka.cluster.split-brain-resolver.active-strategy = keep-oldest
                akka.cluster.split-brain-resolver.stable-after = 7s
                akka.cluster.split-brain-resolver.keep-oldest.down-if-alone = off
                akka.cluster.failure-detector.acceptable-heartbeat-pause = 10s
                akka.cluster.periodic-tasks-initial-delay = 100ms
                akka.cluster.gossip-interval = 200ms
                akka.cluster.leader-actions-interval = 200ms
                akka.cluster.singleton.hand-over-retry-interval = 200ms
                akka.cluster.singleton-proxy.singleton-identification-interval = 200ms
                """, HoconAddMode.Prepend)
            .AddHocon(SweeperMessageSerializer.Hocon, HoconAddMode.Prepend)
            .WithRemoting(RemoteOptionsFor(hostname, port, tls))
            .WithClustering(new ClusterOptions { Roles = roles.ToArray(), SeedNodes = seedNodes.ToArray() });
        if (management is not null) builder.AddSweeperManagement(management);
        if (seedNodes.Count == 0 && management?.Discovery is null)
            builder.AddStartup((system, _) => Akka.Cluster.Cluster.Get(system).Join(Akka.Cluster.Cluster.Get(system).SelfAddress));
        return builder;
    }

    private static RemoteOptions RemoteOptionsFor(string hostname, int port, TlsOptions? tls)
    {
        var options = new RemoteOptions { HostName = hostname, Port = port };
        if (tls is null) return options;
        var certificate = tls.Load();
        options.EnableSsl = true;
        options.Ssl = new SslOptions
        {
            X509Certificate = certificate,
            SuppressValidation = false,
            RequireMutualAuthentication = true,
            // A private CA: a peer is accepted if the CA issued its certificate. Otherwise every node holds the same
            // certificate, and a peer is accepted only if it presents exactly that one.
            CustomValidator = tls.LoadCa() is { } ca ? TlsOptions.TrustedBy(ca) : CertificateValidation.PinnedCertificate([certificate.Thumbprint]),
        };
        return options;
    }

    /// <summary>The coordinator singleton (on nodes with the coordinator role) and a proxy to it.</summary>
    public static AkkaConfigurationBuilder AddSweeperCoordinator(this AkkaConfigurationBuilder builder, SweepSpec spec, ITrialSource source, CoordinatorOptions options)
    {
        return builder.WithActors((system, registry) =>
        {
            system.ActorOf(ClusterSingletonManager.Props(
                SweepCoordinatorActor.Props(spec, source, options),
                PoisonPill.Instance,
                ClusterSingletonManagerSettings.Create(system).WithRole(SweeperRoles.Coordinator).WithSingletonName(SweepCoordinatorActor.Name)),
                SweepCoordinatorActor.Name);
        }).AddSweeperCoordinatorProxy();
    }

    /// <summary>A proxy to the coordinator singleton, registered as <see cref="CoordinatorProxy"/>.</summary>
    public static AkkaConfigurationBuilder AddSweeperCoordinatorProxy(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry) =>
        {
            if (registry.TryGet<CoordinatorProxy>(out _)) return;
            var proxy = system.ActorOf(ClusterSingletonProxy.Props(
                $"/user/{SweepCoordinatorActor.Name}",
                ClusterSingletonProxySettings.Create(system).WithRole(SweeperRoles.Coordinator).WithSingletonName(SweepCoordinatorActor.Name)),
                SweepCoordinatorActor.Name + "-proxy");
            registry.Register<CoordinatorProxy>(proxy);
        });

    /// <summary>A generic host (no default logging or configuration sources) with one Sweeper actor system, wired by <paramref name="configure"/>.</summary>
    public static Microsoft.Extensions.Hosting.IHost BuildHost(Action<AkkaConfigurationBuilder> configure)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new Microsoft.Extensions.Hosting.HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddHealthChecks(); // the service behind the management endpoint's health routes (ManagementEndpoint)
        builder.Services.AddAkka(SystemName, (akka, _) => configure(akka));
        // Not the default ConsoleLifetime: it takes SIGINT and SIGTERM while the host runs, cancels them and only asks the
        // application to stop, which nothing here waits on (SIGTERM was ignored). The program decides what a signal does.
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, SignalFreeLifetime>();
        return builder.Build();
    }

    /// <summary>A host lifetime that starts at once and leaves the process's signals alone.</summary>
    private sealed class SignalFreeLifetime : Microsoft.Extensions.Hosting.IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>A worker with <paramref name="slots"/> trial slots, running trainables from <paramref name="factory"/>.</summary>
    /// <param name="leaveWithCoordinator">
    /// A worker-only node: shut it down once no coordinator is left in the cluster, and fence it (stop its trials, call
    /// <paramref name="onFenced"/>) when the coordinator's side gives up on it (<see cref="WorkerFenceActor"/>).
    /// </param>
    /// <param name="onFenced">Called with the reason when the worker fenced itself; its host should exit.</param>
    public static AkkaConfigurationBuilder AddSweeperWorker(this AkkaConfigurationBuilder builder, int slots, ITrainableFactory factory, bool leaveWithCoordinator = false,
        Action<string>? onFenced = null) =>
        builder.AddSweeperCoordinatorProxy().AddWorkerReadiness().WithActors((system, registry) =>
        {
            var worker = system.ActorOf(WorkerActor.Props(slots, factory, registry.Get<CoordinatorProxy>()), WorkerActor.Name);
            registry.Register<WorkerActor>(worker);
            if (!leaveWithCoordinator) return;
            system.ActorOf(Akka.Actor.Props.Create(() => new CoordinatorGoneActor()), "coordinator-gone");
            system.ActorOf(WorkerFenceActor.Props(worker, onFenced), "worker-fence");
        });
}
