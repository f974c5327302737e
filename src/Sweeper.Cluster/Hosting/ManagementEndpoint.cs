using System.Collections.Immutable;
using System.Net;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Sweeper.Cluster.Hosting;

/// <summary>
/// The node's management HTTP endpoint: <c>GET /health/alive</c> and <c>GET /health/ready</c> run the Akka.Hosting health
/// checks tagged <see cref="SweeperManagement.LiveTag"/> or <see cref="SweeperManagement.ReadyTag"/> (200 when none is
/// unhealthy, 503 otherwise, JSON with each check), and <c>GET /bootstrap/seed-nodes</c> is the contact point Akka
/// Cluster Bootstrap probes (the members a joining node may take as seeds, in Akka.Management's JSON).
/// </summary>
/// <remarks>
/// Akka.Management 1.5.73 serves these routes with Ceen.Httpd 0.9.9, which is not to be had (0.9.10 lacks the method it
/// calls), so the endpoint is the BCL's <see cref="HttpListener"/>; Cluster Bootstrap's probing and joining are
/// Akka.Management's own.
/// </remarks>
public sealed class ManagementEndpoint : IAsyncDisposable
{
    /// <summary>The path Cluster Bootstrap probes (Akka.Management's ClusterBootstrapRequests).</summary>
    public const string SeedNodesPath = "/bootstrap/seed-nodes";

    /// <summary>Members offered as seeds, as Akka.Management's contact point offers them.</summary>
    private const int MaxSeedNodes = 5;

    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(5);

    private readonly HttpListener _listener = new();
    private readonly ActorSystem _system;
    private readonly HealthCheckService _health;
    private readonly Task _loop;
    private int _disposed;

    /// <summary>The endpoint's base address, e.g. <c>http://127.0.0.1:8558/</c>.</summary>
    public Uri BaseUri { get; }

    private ManagementEndpoint(ActorSystem system, HealthCheckService health, string hostname, int port)
    {
        _system = system;
        _health = health;
        BaseUri = new Uri($"http://{(hostname.Contains(':') ? $"[{hostname}]" : hostname)}:{port}/");
        // The listener matches a request's Host header against its prefixes: the name and each of its addresses.
        _listener.Prefixes.Add(BaseUri.ToString());
        if (!IPAddress.TryParse(hostname, out _))
            foreach (var address in Dns.GetHostAddresses(hostname).Where(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork).Distinct())
                _listener.Prefixes.Add($"http://{address}:{port}/");
        try { _listener.Start(); }
        catch (Exception ex) when (ex is HttpListenerException or System.Net.Sockets.SocketException)
        {
            throw new InvalidOperationException($"cannot listen on {BaseUri}: {ex.Message}", ex);
        }
        _loop = Task.Run(ServeAsync);
    }

    /// <summary>Listens on <paramref name="hostname"/>:<paramref name="port"/>; stops when the actor system shuts down.</summary>
    /// <exception cref="InvalidOperationException">The address cannot be listened on (taken, not this machine's).</exception>
    public static ManagementEndpoint Start(ActorSystem system, HealthCheckService health, string hostname, int port)
    {
        var endpoint = new ManagementEndpoint(system, health, hostname, port);
        CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, "sweeper-management-endpoint",
            async () => { await endpoint.DisposeAsync(); return Akka.Done.Instance; });
        return endpoint;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            var (status, body) = context.Request.HttpMethod != "GET" ? (405, Json(new { error = "GET only" }))
                : context.Request.Url?.AbsolutePath.TrimEnd('/') switch
                {
                    SweeperManagement.AlivePath => await HealthAsync(SweeperManagement.LiveTag),
                    SweeperManagement.ReadyPath => await HealthAsync(SweeperManagement.ReadyTag),
                    SeedNodesPath => SeedNodes(),
                    _ => (404, Json(new { error = $"no route; try {SweeperManagement.AlivePath}, {SweeperManagement.ReadyPath} or {SeedNodesPath}" })),
                };
            var bytes = Encoding.UTF8.GetBytes(body);
            response.StatusCode = status;
            response.ContentType = "application/json";
            response.ContentLength64 = bytes.Length;
            await response.OutputStream.WriteAsync(bytes);
        }
        catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The client went away or the endpoint is stopping: nothing to answer.
        }
        finally
        {
            try { response.Close(); } catch (ObjectDisposedException) { }
        }
    }

    private async Task<(int, string)> HealthAsync(string tag)
    {
        using var cancel = new CancellationTokenSource(CheckTimeout);
        try
        {
            var report = await _health.CheckHealthAsync(r => r.Tags.Contains(tag), cancel.Token);
            var checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description });
            return (report.Status == HealthStatus.Unhealthy ? 503 : 200, Json(new { status = report.Status.ToString(), checks }));
        }
        catch (OperationCanceledException)
        {
            return (503, Json(new { status = nameof(HealthStatus.Unhealthy), error = $"the checks took longer than {CheckTimeout.TotalSeconds:0} s" }));
        }
    }

    /// <summary>What Akka.Management's contact point answers (HttpClusterBootstrapRoutes), in its JSON protocol.</summary>
    private (int, string) SeedNodes()
    {
        var cluster = Akka.Cluster.Cluster.Get(_system);
        var self = cluster.SelfMember;
        // Not a member yet (Removed before joining) or on its way out: nothing to offer.
        if (self.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Leaving or MemberStatus.Removed)
            return (503, Json(new { error = $"{self.Address} is {self.Status}" }));
        var state = cluster.State;
        var members = state.Members
            .Where(m => !state.Unreachable.Contains(m) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
            .Take(MaxSeedNodes)
            .Select(m => new HttpBootstrapJsonProtocol.ClusterMember(m.UniqueAddress.Address, m.UniqueAddress.Uid, m.Status, m.Roles))
            .ToImmutableList();
        return (200, Newtonsoft.Json.JsonConvert.SerializeObject(new HttpBootstrapJsonProtocol.SeedNodes(self.UniqueAddress.Address, members)));
    }

    private static string Json(object value) => JsonSerializer.Serialize(value);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _listener.Stop();
        _listener.Close();
        await _loop.ConfigureAwait(false);
    }
}
