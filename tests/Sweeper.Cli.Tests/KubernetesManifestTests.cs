using Sweeper.Cli.Commands;
using Sweeper.Cluster.Hosting;
using Sweeper.Core.Spec;
using Sweeper.Tests.Shared;

namespace Sweeper.Cli.Tests;

/// <summary>
/// ops/k8s is applied to clusters this machine does not have: these checks parse every manifest and hold it to what the
/// program does — the arguments parse and validate as the real command line, probes and discovery use the management
/// port and paths the program serves, labels, selectors, volumes and the service account fit together.
/// </summary>
public sealed class KubernetesManifestTests
{
    private const string Namespace = "sweeper";

    private static readonly string Folder = Path.Combine(Repository.Root, "ops", "k8s");

    private static List<Dictionary<object, object>> Manifests() =>
        Directory.GetFiles(Folder, "*.yaml").Order().SelectMany(CommandLine.YamlDocuments).ToList();

    private static Dictionary<object, object> Map(object? value) => Assert.IsType<Dictionary<object, object>>(value);

    private static List<object> List(object? value) => Assert.IsType<List<object>>(value);

    private static Dictionary<object, object> At(Dictionary<object, object> map, params string[] path) =>
        path.Aggregate(map, (m, key) => Map(m.TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"no '{key}' in {string.Join('.', path)}")));

    private static string Name(Dictionary<object, object> manifest) => (string)At(manifest, "metadata")["name"];

    private static Dictionary<object, object> Single(string kind, string? name = null) =>
        Assert.Single(Manifests(), m => (string)m["kind"] == kind && (name is null || Name(m) == name));

    private static Dictionary<string, string> Labels(Dictionary<object, object> map) =>
        map.ToDictionary(e => (string)e.Key, e => (string)e.Value);

    private static bool Selects(Dictionary<string, string> selector, Dictionary<string, string> labels) =>
        selector.Count > 0 && selector.All(s => labels.TryGetValue(s.Key, out var v) && v == s.Value);

    private static Dictionary<object, object> Container(Dictionary<object, object> workload) =>
        Map(Assert.Single(List(At(workload, "spec", "template", "spec")["containers"])));

    private static List<string> Args(Dictionary<object, object> container) => List(container["args"]).Select(a => (string)a).ToList();

    private static string Arg(List<string> args, string option) => args[args.IndexOf(option) + 1];

    private static Dictionary<string, string> ParseSelector(string selector) =>
        selector.Split(',').Select(p => p.Split('=')).ToDictionary(p => p[0].Trim(), p => p[1].Trim());

    private static Dictionary<object, object> Coordinator() => Single("StatefulSet");

    private static Dictionary<object, object> Workers() => Single("Deployment");

    [Fact]
    public void Manifests_EveryDocumentHasItsKindsFieldsInTheSweeperNamespace()
    {
        var manifests = Manifests();

        Assert.Equal(["ConfigMap", "Deployment", "Namespace", "PersistentVolumeClaim", "Role", "RoleBinding", "Service", "ServiceAccount", "StatefulSet"],
            manifests.Select(m => (string)m["kind"]).Order());
        Assert.All(manifests, m =>
        {
            Assert.False(string.IsNullOrWhiteSpace((string)m["apiVersion"]));
            Assert.False(string.IsNullOrWhiteSpace(Name(m)));
            if ((string)m["kind"] != "Namespace") Assert.Equal(Namespace, (string)At(m, "metadata")["namespace"]);
        });
        Assert.Equal(Namespace, Name(Single("Namespace")));
        var claim = Single("PersistentVolumeClaim");
        Assert.Equal(["ReadWriteMany"], List(At(claim, "spec")["accessModes"]));
        Assert.Equal("1", At(Coordinator(), "spec")["replicas"]);
    }

    [Fact]
    public void Workloads_SelectorsMatchTemplates_ServiceSelectsBoth_DiscoverySelectorFindsTheCoordinator()
    {
        var coordinatorLabels = Labels(At(Coordinator(), "spec", "template", "metadata", "labels"));
        var workerLabels = Labels(At(Workers(), "spec", "template", "metadata", "labels"));
        var service = Single("Service");
        var serviceSelector = Labels(At(service, "spec", "selector"));
        var discoverySelector = ParseSelector(Arg(Args(Container(Workers())), "--pod-selector"));

        Assert.True(Selects(Labels(At(Coordinator(), "spec", "selector", "matchLabels")), coordinatorLabels));
        Assert.True(Selects(Labels(At(Workers(), "spec", "selector", "matchLabels")), workerLabels));
        Assert.False(Selects(Labels(At(Workers(), "spec", "selector", "matchLabels")), coordinatorLabels)); // the Deployment does not adopt the coordinator
        Assert.True(Selects(serviceSelector, coordinatorLabels) && Selects(serviceSelector, workerLabels));
        Assert.Equal("None", At(service, "spec")["clusterIP"]);
        Assert.Equal(Name(service), At(Coordinator(), "spec")["serviceName"]);
        Assert.True(Selects(discoverySelector, coordinatorLabels), "the workers' discovery must find the coordinator's pod");
        Assert.True(Selects(discoverySelector, workerLabels));
    }

    [Theory]
    [InlineData("StatefulSet")]
    [InlineData("Deployment")]
    public void Probes_PointAtTheManagementPortAndThePathsTheProgramServes(string kind)
    {
        var container = Container(Single(kind));
        var args = Args(container);
        var ports = List(container["ports"]).Select(Map).ToDictionary(p => (string)p["name"], p => (string)p["containerPort"]);

        Assert.Equal(Arg(args, "--management-port"), ports[SweeperManagement.PortName]); // discovery asks for the port by that name
        Assert.Equal(Arg(args, "--port"), ports["remoting"]);
        foreach (var (probe, path) in new[] { ("livenessProbe", SweeperManagement.AlivePath), ("readinessProbe", SweeperManagement.ReadyPath) })
        {
            var get = At(container, probe, "httpGet");
            Assert.Equal(path, get["path"]);
            Assert.Equal(SweeperManagement.PortName, get["port"]);
        }
        var servicePorts = List(At(Single("Service"), "spec")["ports"]).Select(Map).ToDictionary(p => (string)p["name"], p => (string)p["targetPort"]);
        Assert.Equal(SweeperManagement.PortName, servicePorts[SweeperManagement.PortName]);
    }

    /// <summary>The container's arguments, with <c>$(VAR)</c> expanded from its env as Kubernetes does (every one defined), and TLS files made real.</summary>
    private static (NodeSettings Settings, List<string> Args) ParseArgs(Dictionary<object, object> container, string scratch)
    {
        var env = List(container["env"]).Select(Map).ToDictionary(e => (string)e["name"], e => e);
        var args = Args(container);
        foreach (var variable in args.SelectMany(a => System.Text.RegularExpressions.Regex.Matches(a, @"\$\((\w+)\)")).Select(m => m.Groups[1].Value))
            Assert.True(env.ContainsKey(variable), $"$({variable}) is not in the container's env");
        var local = args.Select(a => a.Replace("$(POD_IP)", "10.1.2.3")).ToList();
        foreach (var option in new[] { "--tls-cert", "--tls-password-file" })
        {
            var file = Path.Combine(scratch, Path.GetFileName(Arg(local, option)));
            File.WriteAllText(file, "x");
            local[local.IndexOf(option) + 1] = file;
        }
        return ((NodeSettings)CommandLine.Parse(local), args);
    }

    [Fact]
    public void WorkerArgs_ParseAndValidateAsTheProgramsOptions_KubernetesDiscoveryWithTls_CpuIsSlots()
    {
        var scratch = Directory.CreateTempSubdirectory("sweeper-k8s-").FullName;
        try
        {
            var container = Container(Workers());
            var (parsed, args) = ParseArgs(container, scratch);

            var worker = Assert.IsType<WorkerSettings>(parsed);
            Assert.True(worker.Validate().Successful, worker.Validate().Message);
            Assert.Equal(WorkerSettings.KubernetesMethod, worker.Discovery);
            Assert.Equal("", worker.Join);
            var discovery = Assert.IsType<KubernetesDiscovery>(worker.DiscoveryOptions);
            Assert.Equal(ParseSelector(Arg(args, "--pod-selector")), ParseSelector(discovery.PodLabelSelector));
            Assert.Equal("10.1.2.3", worker.Host);
            Assert.NotNull(worker.Tls);
            var env = List(container["env"]).Select(Map).ToDictionary(e => (string)e["name"], e => e);
            Assert.Equal("metadata.namespace", At(env[WorkerSettings.PodNamespaceVariable], "valueFrom", "fieldRef")["fieldPath"]);
            Assert.Equal("status.podIP", At(env["POD_IP"], "valueFrom", "fieldRef")["fieldPath"]);
            var resources = At(container, "resources");
            Assert.Equal(worker.Slots.ToString(System.Globalization.CultureInfo.InvariantCulture), At(resources, "requests")["cpu"]);
            Assert.Equal(At(resources, "requests")["cpu"], At(resources, "limits")["cpu"]);
        }
        finally { Directory.Delete(scratch, recursive: true); }
    }

    [Fact]
    public void CoordinatorArgs_ParseAndValidate_SpecFromTheConfigMap_RunDirectoryOnItsOwnVolume_CheckpointsShared()
    {
        var scratch = Directory.CreateTempSubdirectory("sweeper-k8s-").FullName;
        try
        {
            var coordinator = Coordinator();
            var container = Container(coordinator);
            var (parsed, args) = ParseArgs(container, scratch);

            var run = Assert.IsType<RunSettings>(parsed);
            Assert.True(run.Validate().Successful, run.Validate().Message);
            Assert.True(run.NoLocalWorker);
            Assert.NotNull(run.ManagementPort);
            Assert.NotNull(run.Tls);
            var mounts = List(container["volumeMounts"]).Select(Map).ToDictionary(m => (string)m["mountPath"], m => (string)m["name"]);
            var volumes = List(At(coordinator, "spec", "template", "spec")["volumes"]).Select(Map).ToDictionary(v => (string)v["name"]);
            var claimTemplates = List(At(coordinator, "spec")["volumeClaimTemplates"]).Select(t => Name(Map(t))).ToList();
            Assert.All(mounts.Values, name => Assert.True(volumes.ContainsKey(name) || claimTemplates.Contains(name), $"mount of unknown volume {name}"));
            // The spec: a key of the ConfigMap mounted where 'run' reads it, a valid spec whose checkpoints go to the shared claim.
            var specVolume = volumes[mounts[Path.GetDirectoryName(run.Spec)!]];
            var configMap = Single("ConfigMap", (string)At(specVolume, "configMap")["name"]);
            var specText = (string)At(configMap, "data")[Path.GetFileName(run.Spec)];
            var spec = SpecLoader.LoadText(specText, run.Spec, "/work/spec", new SpecLoader.Options { CheckPaths = false });
            Assert.Equal("persistentVolumeClaim", Assert.Single(volumes[mounts[spec.Checkpoint.Dir!]].Keys.Cast<string>(), k => k != "name"));
            Assert.Equal(Name(Single("PersistentVolumeClaim")), At(volumes[mounts[spec.Checkpoint.Dir!]], "persistentVolumeClaim")["claimName"]);
            // The journal on the coordinator's own disk, in a fixed run directory: a restarted pod resumes the same sweep.
            Assert.Contains(mounts[Path.GetDirectoryName(Arg(args, "--run-dir"))!], claimTemplates);
            // TLS from the secret, mounted where the arguments read it; the workers read the same secret.
            Assert.Equal("sweeper-tls", At(volumes[mounts[Path.GetDirectoryName(Arg(args, "--tls-cert"))!]], "secret")["secretName"]);
            var workerVolumes = List(At(Workers(), "spec", "template", "spec")["volumes"]).Select(Map).ToDictionary(v => (string)v["name"]);
            Assert.Contains(workerVolumes.Values, v => v.ContainsKey("secret") && (string)At(v, "secret")["secretName"] == "sweeper-tls");
            Assert.Contains(workerVolumes.Values, v => v.ContainsKey("persistentVolumeClaim") && (string)At(v, "persistentVolumeClaim")["claimName"] == Name(Single("PersistentVolumeClaim")));
        }
        finally { Directory.Delete(scratch, recursive: true); }
    }

    [Fact]
    public void Rbac_PodsRunAsTheServiceAccountAllowedToListPods()
    {
        var account = Name(Single("ServiceAccount"));
        var role = Single("Role");
        var binding = Single("RoleBinding");

        var rule = Map(Assert.Single(List(role["rules"])));
        Assert.Contains("pods", List(rule["resources"]));
        Assert.Contains("list", List(rule["verbs"]));
        Assert.Equal(Name(role), At(binding, "roleRef")["name"]);
        var subject = Map(Assert.Single(List(binding["subjects"])));
        Assert.Equal(("ServiceAccount", account, Namespace), ((string)subject["kind"], (string)subject["name"], (string)subject["namespace"]));
        Assert.All(new[] { Coordinator(), Workers() }, w => Assert.Equal(account, At(w, "spec", "template", "spec")["serviceAccountName"]));
    }
}
