using Akka.Actor;
using Akka.Cluster;
using Akka.Discovery.Config.Hosting;
using Akka.Discovery.KubernetesApi;
using Akka.Hosting;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Dsl;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Sweeper.Cluster.Actors;

namespace Sweeper.Cluster.Hosting;

/// <summary>
/// The management endpoint of a node (<see cref="ManagementEndpoint"/>): the health checks (<see cref="SweeperManagement.AlivePath"/>,
/// <see cref="SweeperManagement.ReadyPath"/>) and the contact point Akka Cluster Bootstrap probes (<c>/bootstrap/seed-nodes</c>).
/// </summary>
/// <param name="Hostname">Address the endpoint binds to and is reached at.</param>
/// <param name="Port">Its port (1-65535: contact points are found by address and port).</param>
/// <param name="Discovery">How a worker finds the cluster (null: it is given a seed node, or it is the coordinator).</param>
public sealed record ManagementOptions(string Hostname, int Port, DiscoveryOptions? Discovery = null);

/// <summary>How a worker-only node finds the management endpoints (contact points) of the sweep's nodes.</summary>
public abstract record DiscoveryOptions
{
    /// <summary>What the start-up line says about it.</summary>
    public abstract string Describe();
}

/// <summary>A fixed list of management endpoints (<c>host:port</c>), at least the coordinator's.</summary>
public sealed record ConfigDiscovery(IReadOnlyList<string> Endpoints) : DiscoveryOptions
{
    public override string Describe() => $"config discovery of {string.Join(", ", Endpoints)}";
}

/// <summary>The pods the Kubernetes API lists for a label selector, on their container port named <see cref="SweeperManagement.PortName"/>.</summary>
/// <param name="Namespace">Null: the pod's own namespace (from its service account).</param>
public sealed record KubernetesDiscovery(string PodLabelSelector, string? Namespace) : DiscoveryOptions
{
    public override string Describe() => $"Kubernetes discovery of pods '{PodLabelSelector}' in {(Namespace is null ? "this pod's namespace" : $"namespace {Namespace}")}";
}

/// <summary>
/// The management endpoint, Akka Cluster Bootstrap and the health checks of a Sweeper node. The coordinator founds the cluster (it
/// joins itself) and is a contact point; a worker with discovery runs Cluster Bootstrap with new clusters disabled, so
/// it only ever joins a cluster some contact point already belongs to: never one of its own without a coordinator, and
/// a coordinator started after the workers still gathers them (they keep probing until it answers).
/// </summary>
public static class SweeperManagement
{
    public const string AlivePath = "/health/alive";
    public const string ReadyPath = "/health/ready";

    /// <summary>Name of the management port in Kubernetes pods: Kubernetes discovery asks for the port of that name.</summary>
    public const string PortName = "management";

    /// <summary>The service name Cluster Bootstrap looks up (the config discovery's service).</summary>
    public const string ServiceName = SweeperHosting.SystemName;

    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    /// <summary>The health checks the management endpoint serves, and, with <see cref="ManagementOptions.Discovery"/>, Cluster Bootstrap.</summary>
    public static AkkaConfigurationBuilder AddSweeperManagement(this AkkaConfigurationBuilder builder, ManagementOptions options)
    {
        builder.WithActorSystemLivenessCheck(tags: [LiveTag])
            .WithHealthCheck("cluster member up", (system, _, _) => Task.FromResult(MemberUp(system)), tags: [ReadyTag]);
        switch (options.Discovery)
        {
            case null:
                return builder;
            case ConfigDiscovery config:
                builder.WithConfigDiscovery(new ConfigServiceDiscoveryOptions
                {
                    Services = [new Service { Name = ServiceName, Endpoints = config.Endpoints.ToArray() }],
                });
                break;
            case KubernetesDiscovery kubernetes:
                builder.WithKubernetesDiscovery(new KubernetesDiscoveryOptions
                {
                    PodLabelSelector = kubernetes.PodLabelSelector,
                    PodNamespace = kubernetes.Namespace,
                    AllNamespaces = false, // the Role of ops/k8s lists pods in its own namespace only
                });
                break;
        }
        var bootstrap = new ClusterBootstrapOptions { NewClusterEnabled = false }; // a worker joins a cluster a contact point belongs to, never forms one
        bootstrap.ContactPointDiscovery.ServiceName = ServiceName;
        bootstrap.ContactPointDiscovery.PortName = options.Discovery is KubernetesDiscovery ? PortName : null;
        bootstrap.ContactPointDiscovery.RequiredContactPointsNr = 1;
        bootstrap.ContactPointDiscovery.Interval = TimeSpan.FromSeconds(1);
        // Several nodes of one machine (tests, a laptop) have one host and different management ports: probe them all.
        bootstrap.ContactPoint.FilterOnFallbackPort = false;
        bootstrap.ContactPoint.ProbeInterval = TimeSpan.FromSeconds(1);
        bootstrap.ContactPoint.FallbackPort = options.Port;
        // While no contact point answers (the coordinator is not up yet), a probe gives up and logs an error after this long.
        bootstrap.ContactPoint.ProbingFailureTimeout = TimeSpan.FromSeconds(15);
        return builder.WithClusterBootstrap(bootstrap, autoStart: false);
    }

    /// <summary>
    /// Starts the management endpoint (<see cref="ManagementEndpoint"/>) and, when the node discovers its cluster, Cluster
    /// Bootstrap, whose contact point is that endpoint. Throws <see cref="InvalidOperationException"/> when the endpoint
    /// cannot listen.
    /// </summary>
    public static async Task<ManagementEndpoint> StartAsync(ActorSystem system, IServiceProvider services, ManagementOptions options)
    {
        var endpoint = ManagementEndpoint.Start(system, services.GetRequiredService<HealthCheckService>(), options.Hostname, options.Port);
        if (options.Discovery is null) return endpoint;
        var bootstrap = ClusterBootstrap.Get(system);
        bootstrap.Routes(ManagementRouteProviderSettings.Create(endpoint.BaseUri, true)); // tells Cluster Bootstrap its own contact point
        await bootstrap.Start();
        return endpoint;
    }

    private static HealthCheckResult MemberUp(ActorSystem system)
    {
        var self = Akka.Cluster.Cluster.Get(system).SelfMember;
        return self.Status is MemberStatus.Up or MemberStatus.WeaklyUp
            ? HealthCheckResult.Healthy($"{self.Address} is {self.Status}")
            : HealthCheckResult.Unhealthy($"{self.Address} is {self.Status}, not Up");
    }

    /// <summary>Ready when this node's worker is registered with the coordinator (added by <see cref="SweeperHosting.AddSweeperWorker"/>).</summary>
    internal static AkkaConfigurationBuilder AddWorkerReadiness(this AkkaConfigurationBuilder builder) =>
        builder.WithHealthCheck("worker registered", async (_, registry, cancel) =>
        {
            if (!registry.TryGet<WorkerActor>(out var worker)) return HealthCheckResult.Unhealthy("no worker actor");
            try
            {
                var registered = await worker.Ask<bool>(WorkerActor.RegistrationQuery.Instance, TimeSpan.FromSeconds(3), cancel);
                return registered ? HealthCheckResult.Healthy("registered with the coordinator") : HealthCheckResult.Unhealthy("not registered with a coordinator yet");
            }
            catch (Exception ex) when (ex is AskTimeoutException or TaskCanceledException)
            {
                return HealthCheckResult.Unhealthy("the worker actor did not answer");
            }
        }, tags: [ReadyTag]);
}
