using System.ComponentModel;
using System.Net;
using Spectre.Console;
using Spectre.Console.Cli;
using Sweeper.Cli.Running;
using Sweeper.Cluster.Hosting;

namespace Sweeper.Cli.Commands;

/// <summary>Options every cluster node takes: where remoting listens, and TLS.</summary>
/// <remarks>
/// Remoting off loopback without TLS is refused unless <c>--insecure</c> says so: anyone who can reach the port could
/// otherwise join the cluster and send messages.
/// </remarks>
public abstract class NodeSettings : CommandSettings
{
    /// <summary>Environment variable holding the password of <c>--tls-cert</c>.</summary>
    public const string PasswordVariable = "SWEEPER_TLS_PASSWORD";

    [CommandOption("--hostname <HOST>")]
    [Description("Address remoting binds to and is reached at (default 127.0.0.1; 'auto': this machine's first non-loopback IPv4 address, e.g. a container's). Anything but loopback needs --tls-cert or --insecure.")]
    [DefaultValue("127.0.0.1")]
    public string Hostname { get; init; } = "127.0.0.1";

    [CommandOption("--port <PORT>")]
    [Description("Remoting port (default 0: any free port).")]
    [DefaultValue(0)]
    public int Port { get; init; }

    [CommandOption("--management-port <PORT>")]
    [Description("Serve the management endpoint on this port (plain HTTP, read-only): health checks (/health/alive, /health/ready) and the contact point workers find with --discovery.")]
    public int? ManagementPort { get; init; }

    [CommandOption("--management-hostname <HOST>")]
    [Description("Address the management endpoint binds to and is reached at (default: --hostname).")]
    public string? ManagementHostname { get; init; }

    [CommandOption("--tls-cert <PFX>")]
    [Description("Mutual TLS: the sweep's PKCS#12 certificate with its key; every node must hold the same one.")]
    public string? TlsCertificate { get; init; }

    [CommandOption("--tls-ca <PEM>")]
    [Description("Mutual TLS with a private CA: accept any peer whose certificate this CA issued, so every node can have its own --tls-cert.")]
    public string? TlsCa { get; init; }

    [CommandOption("--tls-password-file <FILE>")]
    [Description("File holding the password of --tls-cert (its first line). Or set SWEEPER_TLS_PASSWORD.")]
    public string? TlsPasswordFile { get; init; }

    [CommandOption("--tls-password <PASSWORD>")]
    [Description("Password of --tls-cert on the command line: visible to every user in 'ps'; prefer --tls-password-file or SWEEPER_TLS_PASSWORD.")]
    public string? TlsPassword { get; init; }

    [CommandOption("--threads-per-trial <AUTO|N>")]
    [Description("Intra-op threads each trial of this node's worker uses (default auto: the machine's cores divided among the worker's slots, at least 1). A trial's figures can differ in the last digits between thread counts.")]
    [DefaultValue("auto")]
    public string ThreadsPerTrialText { get; init; } = "auto";

    [CommandOption("--insecure")]
    [Description("Allow remoting off loopback without TLS: anyone who reaches the port can join the cluster.")]
    public bool Insecure { get; init; }

    /// <summary>What <c>--hostname auto</c> stands for: this machine's first non-loopback IPv4 address (a container's own).</summary>
    public const string AutoHostname = "auto";

    private string? _passwordFromFile;
    private int? _threadsPerTrial;
    private string? _resolvedHostname;

    /// <summary>The address remoting binds to and advertises: <see cref="Hostname"/>, with <c>auto</c> resolved.</summary>
    public string Host => _resolvedHostname ?? Hostname;

    /// <summary>This node as the sweep host runs it: remoting, TLS and Akka.Management (with <c>--management-port</c>).</summary>
    public NodeOptions Node(bool localWorker = true, int? slots = null, DiscoveryOptions? discovery = null) =>
        new(Host, Port, localWorker, slots, Tls, ManagementPort is { } port ? new ManagementOptions(ManagementHostname ?? Host, port, discovery) : null, _threadsPerTrial);

    /// <summary>"management http://host:port (/health/alive, /health/ready); " or nothing.</summary>
    public string DescribeManagement(NodeOptions node) => node.Management is { } m
        ? $"management http://{m.Hostname}:{m.Port} ({SweeperManagement.AlivePath}, {SweeperManagement.ReadyPath}); "
        : "";

    public TlsOptions? Tls => TlsCertificate is null ? null
        : new TlsOptions(Path.GetFullPath(TlsCertificate), TlsPassword ?? _passwordFromFile ?? Environment.GetEnvironmentVariable(PasswordVariable),
            TlsCa is null ? null : Path.GetFullPath(TlsCa));

    /// <summary>True for 127.0.0.0/8, ::1 and <c>localhost</c>: addresses no other machine can reach.</summary>
    public static bool IsLoopback(string hostname) =>
        string.Equals(hostname, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(hostname, out var address) && IPAddress.IsLoopback(address));

    /// <summary>The first non-loopback IPv4 address of an interface that is up, or null.</summary>
    public static string? NonLoopbackAddress() =>
        System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up && n.NetworkInterfaceType != System.Net.NetworkInformation.NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))?.ToString();

    public override ValidationResult Validate()
    {
        if (Port is < 0 or > 65535) return ValidationResult.Error("--port must be between 0 and 65535");
        if (!Core.Trials.IntraOpThreads.TryParse(ThreadsPerTrialText, out _threadsPerTrial, out var threadsError)) return ValidationResult.Error(threadsError!);
        if (ManagementPort is < 1 or > 65535) return ValidationResult.Error("--management-port must be between 1 and 65535");
        if (ManagementHostname is not null && ManagementPort is null) return ValidationResult.Error("--management-hostname goes with --management-port");
        if (ManagementPort == Port && (ManagementHostname ?? Hostname) == Hostname)
            return ValidationResult.Error($"--management-port {ManagementPort} is the remoting port too; give them different ports");
        if (string.Equals(Hostname, AutoHostname, StringComparison.OrdinalIgnoreCase))
        {
            _resolvedHostname = NonLoopbackAddress();
            if (_resolvedHostname is null) return ValidationResult.Error("--hostname auto: this machine has no non-loopback IPv4 address; give --hostname explicitly");
        }
        if (TlsCertificate is not null && !File.Exists(TlsCertificate)) return ValidationResult.Error($"--tls-cert: no file '{TlsCertificate}'");
        if (TlsCertificate is null && (TlsPassword ?? TlsPasswordFile ?? TlsCa) is not null) return ValidationResult.Error("--tls-password, --tls-password-file and --tls-ca go with --tls-cert");
        if (TlsCa is not null && !File.Exists(TlsCa)) return ValidationResult.Error($"--tls-ca: no file '{TlsCa}'");
        if (TlsPassword is not null && TlsPasswordFile is not null) return ValidationResult.Error("give either --tls-password or --tls-password-file, not both");
        if (TlsPasswordFile is not null)
        {
            if (!File.Exists(TlsPasswordFile)) return ValidationResult.Error($"--tls-password-file: no file '{TlsPasswordFile}'");
            try { _passwordFromFile = File.ReadLines(TlsPasswordFile).FirstOrDefault() ?? ""; }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return ValidationResult.Error($"--tls-password-file: {ex.Message}"); }
        }
        if (TlsCertificate is null && !IsLoopback(Host) && !Insecure)
            return ValidationResult.Error($"--hostname {Host} opens remoting to other machines without TLS; give --tls-cert (see README, TLS) or, on a network you trust, --insecure");
        // Warnings go to standard error before anything starts.
        if (TlsPassword is not null)
            Console.Error.WriteLine($"warning: --tls-password is visible to every user of this machine (ps, /proc); use --tls-password-file or {PasswordVariable}");
        if (TlsCertificate is null && !IsLoopback(Host))
            Console.Error.WriteLine($"warning: --insecure: remoting on {Host} without TLS; anyone who reaches this port can join the cluster and send it work");
        return ValidationResult.Success();
    }
}
