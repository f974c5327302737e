using Sweeper.Core.Model;
using Sweeper.Core.Stability;

namespace Sweeper.Core.Spec;

/// <summary>
/// Loads a sweep spec strictly: every unknown or duplicate key, wrong type, bad range, missing required key and
/// missing dataset folder is reported at once, each with file:line:col and key path. Nothing is written.
/// </summary>
public static class SpecLoader
{
    public sealed record Options
    {
        /// <summary>Check that dataset folders exist (on by default; a worker on another machine may turn it off).</summary>
        public bool CheckPaths { get; init; } = true;

        /// <summary>
        /// Checks that need more than the spec (e.g. that a plug-in's type loads, that a data set's files are there),
        /// run with <see cref="CheckPaths"/> once the spec is otherwise valid: each problem is a dotted key path and a
        /// message, reported at that key's place in the file.
        /// </summary>
        public IReadOnlyList<Func<SweepSpec, IEnumerable<SpecProblem>>> Checks { get; init; } = [];

        /// <summary>Where <c>${env:NAME}</c> in values is looked up (default: the process's environment).</summary>
        public Func<string, string?> Environment { get; init; } = System.Environment.GetEnvironmentVariable;
    }

    /// <summary>A problem a <see cref="Options.Checks"/> check found: the key it is about and what is wrong.</summary>
    public sealed record SpecProblem(string KeyPath, string Message);

    /// <summary>Largest spec accepted, in bytes (1 MiB); a sweep spec is a page or two of YAML.</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>Deepest nesting of lists and mappings accepted in a spec.</summary>
    public const int MaxDepth = YamlTreeReader.MaxDepth;

    public static SweepSpec LoadFile(string path, Options? options = null)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new SpecException([new SpecError(path, new SourceLocation(1, 1), "", "file not found")]);
        var length = new FileInfo(full).Length;
        if (length > MaxBytes) throw TooLarge(path, length);
        string text;
        try { text = File.ReadAllText(full); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SpecException([new SpecError(path, new SourceLocation(1, 1), "", "cannot read the file: " + ex.Message)]);
        }
        return LoadText(text, path, Path.GetDirectoryName(full)!, options);
    }

    /// <param name="file">The name errors are reported under.</param>
    /// <param name="baseDirectory">Relative dataset paths are resolved against it.</param>
    public static SweepSpec LoadText(string text, string file, string baseDirectory, Options? options = null)
    {
        options ??= new Options();
        var bytes = System.Text.Encoding.UTF8.GetByteCount(text);
        if (bytes > MaxBytes) throw TooLarge(file, bytes);
        var errors = new List<SpecError>();
        var root = YamlTreeReader.Read(text, file, errors);
        int before = errors.Count;
        if (root is not null) root = SpecEnvironment.Interpolate(root, options.Environment, file, errors);
        // A value whose ${env:...} could not be replaced is reported once, not again by its key's type check.
        var unreplaced = errors.Skip(before).ToList();
        var binder = new Binder(file, errors);
        var spec = new SweepSpec
        {
            Name = "",
            Objective = new ObjectiveSpec("", ObjectiveMode.Max),
            Trainable = new TrainableSpec { Dataset = new DatasetSpec() },
            SourcePath = Path.IsPathRooted(file) ? file : Path.GetFullPath(file),
            SourceText = text,
        };
        if (root is YMapping map)
        {
            spec = binder.BindSection(map, "", spec);
            if ((map["trainable"] as YMapping)?["args"] is { } args && !(args is YScalar { IsNull: true }))
                spec = binder.BindArgs(args, spec);
            binder.CheckTrainable(map, spec);
            var parameters = map[SpecSchema.ParametersKey];
            if (parameters is not null && !(parameters is YScalar { IsNull: true }))
                spec = spec with { Parameters = binder.BindParameters(parameters) };
            if (map[SpecSchema.VariantsKey] is { } variants && !(variants is YScalar { IsNull: true }))
                spec = binder.BindVariants(variants, spec);
            binder.CheckStability(map, spec);
            spec = ResolvePaths(spec, baseDirectory);
            spec = spec with { Trainable = spec.Trainable with { Dataset = spec.Trainable.Dataset with { SplitSeed = spec.Seed } } };
            if (errors.Count == 0) CheckSearch(spec, map, file, errors);
            if (errors.Count == 0) spec = CheckObjective(spec, map, file, errors);
            if (options.CheckPaths && errors.Count == 0 && !SpecSchema.DataFreeModels.Contains(spec.Trainable.Model))
                CheckDatasetPaths(spec, map, file, errors);
            if (options.CheckPaths && errors.Count == 0)
                foreach (var check in options.Checks)
                    foreach (var problem in check(spec))
                        errors.Add(new SpecError(file, Locate(map, problem.KeyPath), problem.KeyPath, problem.Message));
        }
        else if (root is not null)
        {
            errors.Add(new SpecError(file, root.Location, "", "expected a mapping of keys (name, objective, trainable, ...) at the top level"));
        }
        errors.RemoveAll(e => !unreplaced.Contains(e) && unreplaced.Any(u => u.Location == e.Location && u.KeyPath == e.KeyPath));
        if (errors.Count > 0)
            throw new SpecException(errors.OrderBy(e => e.Location.Line).ThenBy(e => e.Location.Column).ToList());
        return spec;
    }

    private static SpecException TooLarge(string file, long bytes) =>
        new([new SpecError(file, new SourceLocation(1, 1), "", string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"the file is {bytes:N0} bytes; a spec may be at most 1 MiB ({MaxBytes:N0} bytes)"))]);

    /// <summary>
    /// Applies a trial's parameters (dotted keys, and <c>variant</c>: the settings of that named variant) to the spec; values
    /// must already be valid for their keys.
    /// </summary>
    public static SweepSpec Apply(SweepSpec spec, IEnumerable<KeyValuePair<string, object>> parameters)
    {
        foreach (var (key, value) in parameters)
        {
            if (key == SpecSchema.VariantParameter)
            {
                var name = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture);
                var variant = spec.Variants.FirstOrDefault(v => v.Name == name)
                    ?? throw new ArgumentException($"unknown variant '{name}' (the spec's variants: {string.Join(", ", spec.Variants.Select(v => v.Name))})", nameof(parameters));
                spec = Apply(spec, variant.Settings);
                continue;
            }
            var setting = SpecSchema.Find(key) ?? throw new ArgumentException($"unknown parameter key '{key}'", nameof(parameters));
            spec = setting.Apply(spec, Coerce(setting, value));
        }
        return spec;
    }

    private static object? Coerce(Setting setting, object value) => setting.Type switch
    {
        SettingType.Number => Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture),
        SettingType.Integer => Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture),
        SettingType.Any => value switch { int i => (long)i, float f => (double)f, _ => value },
        _ => value,
    };

    /// <summary>Relative paths of the data set, a plug-in's assembly and a program's working directory, against the spec's folder.</summary>
    private static SweepSpec ResolvePaths(SweepSpec spec, string baseDirectory)
    {
        string Full(string path) => path.Length > 0 && !Path.IsPathRooted(path) ? Path.GetFullPath(Path.Combine(baseDirectory, path)) : path;
        var t = spec.Trainable;
        t = t with { Dataset = t.Dataset with { Path = Full(t.Dataset.Path) } };
        if (t.Plugin is { } plugin) t = t with { Plugin = plugin with { Assembly = Full(plugin.Assembly) } };
        if (t.Command is { } command)
            t = t with { Command = command with { WorkingDirectory = command.WorkingDirectory.Length == 0 ? Path.GetFullPath(baseDirectory) : Full(command.WorkingDirectory) } };
        return spec with { Trainable = t };
    }

    /// <summary>
    /// <paramref name="trainable"/> with the paths <see cref="LoadText"/> resolves against the spec's folder (data set,
    /// plug-in assembly, program working directory) taken from <paramref name="from"/>: e.g. a journaled trial's settings
    /// with the paths of the same trial from its spec loaded where the spec's folder is now. The same instance when equal.
    /// </summary>
    public static TrainableSpec WithPathsOf(TrainableSpec trainable, TrainableSpec from)
    {
        var t = trainable;
        if (t.Dataset.Path != from.Dataset.Path) t = t with { Dataset = t.Dataset with { Path = from.Dataset.Path } };
        if (t.Plugin is { } plugin && from.Plugin is { } other && plugin.Assembly != other.Assembly) t = t with { Plugin = plugin with { Assembly = other.Assembly } };
        if (t.Command is { } command && from.Command is { } its && command.WorkingDirectory != its.WorkingDirectory)
            t = t with { Command = command with { WorkingDirectory = its.WorkingDirectory } };
        return t;
    }

    /// <summary>
    /// A validation metric needs a validation split (models that read no data set report one anyway); a test metric is
    /// allowed but selecting on it leaks the test set into every choice the sweep makes: a warning.
    /// </summary>
    private static SweepSpec CheckObjective(SweepSpec spec, YMapping root, string file, List<SpecError> errors)
    {
        var metric = spec.Objective.Metric;
        var where = Locate(root, "objective.metric");
        bool hasValidation = spec.Trainable.Dataset.Validation is not null
            || spec.Parameters.Any(p => p.Key == "trainable.dataset.validation")
            || SpecSchema.DataFreeModels.Contains(spec.Trainable.Model);
        if (metric.StartsWith("val_", StringComparison.Ordinal) && !hasValidation)
        {
            errors.Add(new SpecError(file, where, "objective.metric",
                $"'{metric}' needs a validation split: set trainable.dataset.validation (a count, or a fraction of the training images)"));
            return spec;
        }
        if (metric.StartsWith("test_", StringComparison.Ordinal))
        {
            var better = hasValidation ? "val_" + metric["test_".Length..] : $"val_{metric["test_".Length..]} with trainable.dataset.validation set";
            return spec with
            {
                Warnings = [.. spec.Warnings, new SpecError(file, where, "objective.metric",
                    $"selecting, pruning and searching on '{metric}' leaks the test set into every choice of the sweep; use {better}")],
            };
        }
        return spec;
    }

    /// <summary>The parameters as a search space, and the search settings, checked together.</summary>
    private static void CheckSearch(SweepSpec spec, YMapping root, string file, List<SpecError> errors)
    {
        var definitions = spec.Parameters.Select(p => p.Definition).ToList();
        SourceLocation Where(string key, string fallbackPath) =>
            spec.Parameters.FirstOrDefault(p => p.Key == key)?.Location ?? Locate(root, fallbackPath);
        var spaceErrors = Search.SearchSpace.Validate(definitions);
        foreach (var e in spaceErrors)
            errors.Add(new SpecError(file, Where(e.Key, SpecSchema.ParametersKey), SpecSchema.ParametersKey + "." + e.Key, e.Message));
        if (spaceErrors.Count > 0) return;
        Search.Searchers.TryParse(spec.Search.Algorithm, out var algorithm);
        foreach (var e in Search.Searchers.Validate(algorithm, new Search.SearchSpace(definitions), spec.Search.NumSamples))
        {
            bool isParameter = spec.Parameters.Any(p => p.Key == e.Key);
            errors.Add(new SpecError(file, isParameter ? Where(e.Key, "") : Locate(root, "search.num_samples"),
                isParameter ? SpecSchema.ParametersKey + "." + e.Key : "search." + e.Key, e.Message));
        }
        if (algorithm != Search.SearchAlgorithm.Grid && spec.Search.NumSamples is null && spec.Stop.MaxTrials is null)
            errors.Add(new SpecError(file, Locate(root, "search.algorithm"), "search.num_samples",
                $"{spec.Search.Algorithm} search never runs out of configurations: set search.num_samples or stop.max_trials"));
    }

    /// <summary>The location of a dotted key, or of its nearest written ancestor.</summary>
    private static SourceLocation Locate(YMapping root, string path)
    {
        var location = root.Location;
        YNode node = root;
        foreach (var part in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            if (node is not YMapping m) break;
            var entry = m.Entries.FirstOrDefault(e => e.Key.Value == part);
            if (entry.Key is null) break;
            location = entry.Value is YScalar ? entry.Value.Location : entry.Key.Location;
            node = entry.Value;
        }
        return location;
    }

    private static void CheckDatasetPaths(SweepSpec spec, YMapping root, string file, List<SpecError> errors)
    {
        var path = spec.Trainable.Dataset.Path;
        if (Directory.Exists(path)) return;
        var node = ((root["trainable"] as YMapping)?["dataset"] as YMapping)?["path"]
                   ?? (root["trainable"] as YMapping)?["dataset"] ?? root;
        var hint = spec.Trainable.Dataset.Name == "fashion_mnist"
            ? "; install Fashion-MNIST with 'apt-get install dataset-fashion-mnist' (Debian) or set trainable.dataset.path to a folder of its idx files"
            : "";
        errors.Add(new SpecError(file, node.Location, "trainable.dataset.path", $"folder '{path}' does not exist{hint}"));
    }

    private sealed class Binder(string file, List<SpecError> errors)
    {
        public SweepSpec BindSection(YMapping map, string section, SweepSpec spec)
        {
            var allowed = SpecSchema.KeysUnder(section);
            var suggested = new HashSet<string>();
            var seen = new Dictionary<string, YScalar>();
            foreach (var (keyNode, value) in map.Entries)
            {
                var written = keyNode.Value;
                var key = allowed.Contains(written) ? written : SpecSchema.FindUnder(section, written)?.Key ?? written; // an alias names its key
                var path = section.Length == 0 ? key : section + "." + key;
                if (!allowed.Contains(key))
                {
                    var near = SpecSchema.Nearest(key, allowed);
                    var hint = near is null ? "" : $"; did you mean '{near}'?";
                    if (near is not null) suggested.Add(near);
                    errors.Add(new SpecError(file, keyNode.Location, path, $"unknown key '{key}'{hint} (valid keys here: {string.Join(", ", allowed)})"));
                    continue;
                }
                if (seen.TryGetValue(key, out var first))
                {
                    errors.Add(new SpecError(file, keyNode.Location, path, $"'{written}' and '{first.Value}' (line {first.Location.Line}) name the same key; give one"));
                    continue;
                }
                seen[key] = keyNode;
                if (SpecSchema.FindSection(path) is { } sub)
                {
                    if (sub.Separate || (sub.NullMeansAbsent && value is YScalar { IsNull: true })) continue;
                    spec = BindSubsection(sub, value, spec);
                    continue;
                }
                var setting = SpecSchema.Find(path)!;
                if (setting.Type == SettingType.StringList)
                {
                    if (BindStrings(value, path, setting) is { } strings) spec = setting.Apply(spec, strings);
                    continue;
                }
                if (setting.Type == SettingType.Changes)
                {
                    if (BindChanges(value, path, setting) is { } changes) spec = setting.Apply(spec, changes);
                    continue;
                }
                if (value is not YScalar scalar)
                {
                    errors.Add(new SpecError(file, value.Location, path, $"expected {setting.Expected}, found {Found(value)}"));
                    continue;
                }
                var converted = setting.Convert(scalar, out var error);
                if (error is not null) errors.Add(new SpecError(file, value.Location, path, error));
                else spec = setting.Apply(spec, converted);
            }
            ReportMissing(map, section, suggested);
            return spec;
        }

        /// <summary>A section's mapping, or the scalar that stands for its shorthand key (<c>backoff: 30s</c>).</summary>
        private SweepSpec BindSubsection(Section section, YNode value, SweepSpec spec)
        {
            var keys = string.Join(", ", SpecSchema.KeysUnder(section.Path));
            if (value is YMapping mapping)
                return BindSection(mapping, section.Path, section.Enter is { } enter ? enter(spec) : spec);
            if (section.Shorthand is not { } shorthand || SpecSchema.Find(section.Path + "." + shorthand) is not { } stand)
            {
                errors.Add(new SpecError(file, value.Location, section.Path, $"expected a mapping of keys ({keys}), found {Found(value)}"));
                return spec;
            }
            string error = $"expected {stand.Expected} or a mapping of keys ({keys}), found {Found(value)}";
            if (value is YScalar scalar)
            {
                var converted = stand.Convert(scalar, out var convertError);
                if (convertError is null) return stand.Apply(section.Enter is { } enter ? enter(spec) : spec, converted);
                if (!convertError.StartsWith("expected ", StringComparison.Ordinal)) error = convertError; // in the shorthand's type, but out of range
            }
            errors.Add(new SpecError(file, value.Location, section.Path, error));
            return spec;
        }

        /// <summary>Reports required keys that are absent, except those an unknown key was already said to be a typo of.</summary>
        private void ReportMissing(YMapping map, string section, IReadOnlySet<string> suggested)
        {
            var prefix = section.Length == 0 ? "" : section + ".";
            var required = SpecSchema.Settings.Where(s => s.Required).Select(s => s.Path)
                .Concat(SpecSchema.Sections.Where(s => s.Required).Select(s => s.Path));
            foreach (var path in required)
            {
                if (!path.StartsWith(prefix, StringComparison.Ordinal) || path[prefix.Length..].Contains('.')) continue;
                var key = path[prefix.Length..];
                if (map[key] is null && !suggested.Contains(key))
                    errors.Add(new SpecError(file, map.Location, path, $"missing required key '{key}'"));
            }
        }

        /// <summary>
        /// <c>variants:</c> a mapping of names to mappings of sweepable dotted keys and values. Adds the parameter
        /// <c>variant</c> (values: the names, in order) before the spec's other parameters; a key that a variant sets may not
        /// also be a parameter (which of the two would win would be a guess).
        /// </summary>
        public SweepSpec BindVariants(YNode node, SweepSpec spec)
        {
            const string path = SpecSchema.VariantsKey;
            if (node is not YMapping map || map.Entries.Count == 0)
            {
                errors.Add(new SpecError(file, node.Location, path, $"expected a mapping of variant names to settings, e.g. 'msqe_mask: {{trainable.quantizer.method: msqe_po2, trainable.quantizer.outlier_mask: true}}', found {Found(node)}"));
                return spec;
            }
            var parameterKeys = spec.Parameters.ToDictionary(p => p.Key, p => p.Location);
            var variants = new List<VariantSpec>();
            foreach (var (nameNode, body) in map.Entries)
            {
                var name = nameNode.Value;
                var variantPath = path + "." + name;
                if (body is not YMapping settings)
                {
                    errors.Add(new SpecError(file, body.Location, variantPath, $"expected a mapping of dotted keys to values, e.g. '{{trainable.quantizer.method: msqe_po2}}', found {Found(body)}"));
                    continue;
                }
                var values = new List<KeyValuePair<string, object>>();
                foreach (var (keyNode, valueNode) in settings.Entries)
                {
                    var key = keyNode.Value;
                    var keyPath = variantPath + "." + key;
                    var setting = Sweepable(keyNode, keyPath, "unknown key");
                    if (setting is null) continue;
                    if (parameterKeys.TryGetValue(key, out var at))
                    {
                        errors.Add(new SpecError(file, keyNode.Location, keyPath, $"'{key}' is also a parameter (line {at.Line}); set it in the variants or in parameters, not both"));
                        continue;
                    }
                    if (valueNode is not YScalar scalar)
                    {
                        errors.Add(new SpecError(file, valueNode.Location, keyPath, $"expected {setting.Expected}, found {Found(valueNode)}"));
                        continue;
                    }
                    var value = setting.Convert(scalar, out var error);
                    if (error is not null) errors.Add(new SpecError(file, valueNode.Location, keyPath, error));
                    else if (value is null) errors.Add(new SpecError(file, valueNode.Location, keyPath, $"a variant sets a value: expected {setting.Expected.Replace(" or null", "")}, found nothing (null)"));
                    else values.Add(new(key, value));
                }
                variants.Add(new VariantSpec(name, values, nameNode.Location));
            }
            if (variants.Count == 0) return spec;
            var definition = new Search.ParameterDefinition(SpecSchema.VariantParameter, Search.ParameterDomain.Values(variants.Select(v => (object)v.Name).ToArray()));
            return spec with
            {
                Variants = variants,
                Parameters = [new ParameterSpec(definition, map.Location), .. spec.Parameters],
            };
        }

        /// <summary>The sweepable setting a key names, or null after an error ("<paramref name="what"/> 'x'; did you mean ...").</summary>
        private Setting? Sweepable(YScalar keyNode, string path, string what)
        {
            var key = keyNode.Value;
            var setting = SpecSchema.Find(key);
            if (setting is not null && setting.Sweepable) return setting;
            var sweepable = SpecSchema.Settings.Where(s => s.Sweepable).Select(s => s.Path).ToList();
            var near = SpecSchema.Nearest(key, sweepable);
            var hint = near is null ? $" (sweepable keys: {string.Join(", ", sweepable)})" : $"; did you mean '{near}'?";
            errors.Add(new SpecError(file, keyNode.Location, path, $"{what} '{key}'{hint}"));
            return null;
        }

        public IReadOnlyList<ParameterSpec> BindParameters(YNode node)
        {
            var result = new List<ParameterSpec>();
            if (node is not YMapping map)
            {
                errors.Add(new SpecError(file, node.Location, SpecSchema.ParametersKey, $"expected a mapping of dotted keys to domains, e.g. 'trainable.optimizer.lr: {{values: [0.01, 0.1]}}', found {Found(node)}"));
                return result;
            }
            foreach (var (keyNode, domainNode) in map.Entries)
            {
                var key = keyNode.Value;
                var path = SpecSchema.ParametersKey + "." + key;
                var setting = Sweepable(keyNode, path, "unknown parameter key");
                if (setting is null) continue;
                if (domainNode is not YMapping domainMap)
                {
                    errors.Add(new SpecError(file, domainNode.Location, path, $"expected a domain mapping such as '{{values: [...]}}' or '{{log_uniform: [0.001, 0.1]}}', found {Found(domainNode)}"));
                    continue;
                }
                var definition = BindDomain(key, path, setting, domainMap);
                if (definition is not null) result.Add(new ParameterSpec(definition, keyNode.Location));
            }
            return result;
        }

        /// <summary>
        /// A list of <c>key: change</c> entries (or one mapping of them), each parsed by <see cref="ParameterChange"/>;
        /// errors are located at the entry, with the path <c>changes[i]</c>. Null when there were errors.
        /// </summary>
        private ChangeSet? BindChanges(YNode node, string path, Setting setting)
        {
            int before = errors.Count;
            var entries = new List<(string Key, YNode Value, SourceLocation At, string Path)>();
            if (node is YMapping map)
                entries.AddRange(map.Entries.Select((e, i) => (e.Key.Value, e.Value, e.Key.Location, $"{path}[{i}]")));
            else if (node is YSequence list)
            {
                for (int i = 0; i < list.Items.Count; i++)
                {
                    if (list.Items[i] is YMapping { Entries: [var (key, value)] }) entries.Add((key.Value, value, list.Items[i].Location, $"{path}[{i}]"));
                    else errors.Add(new SpecError(file, list.Items[i].Location, $"{path}[{i}]",
                        $"expected one 'key: change' entry, such as trainable.optimizer.lr: \"*0.5\"; found {Found(list.Items[i])}"));
                }
            }
            else
            {
                errors.Add(new SpecError(file, node.Location, path, $"expected {setting.Expected}, found {Found(node)}"));
                return null;
            }
            var changes = new List<ParameterChange>();
            foreach (var (key, value, at, entryPath) in entries)
            {
                if (ParameterChange.TryParse(key, PlainChange(value), out var change, out var error)) changes.Add(change);
                else errors.Add(new SpecError(file, at, entryPath, error));
            }
            return errors.Count == before ? new ChangeSet(changes) : null;
        }

        /// <summary>A change as a plain value; a signed plain scalar stays text, so '+1' means "add 1", not "set to 1".</summary>
        private static object? PlainChange(YNode node) => node switch
        {
            YScalar s when s.IsNull => null,
            YScalar s when !s.Quoted && s.Value.Length > 1 && s.Value[0] is '+' or '-' => s.Value,
            YScalar s => Setting.Plain(s),
            _ => new List<object?>(),
        };

        /// <summary>
        /// The stability section's rules across keys, after every key was read with its type and range: the keys that
        /// apply only to restarts, the monitor's and backoffs' relations between keys, and that every change names a
        /// sweepable key and fits its type for as many restarts as allowed.
        /// </summary>
        public void CheckStability(YMapping root, SweepSpec spec)
        {
            const string prefix = SpecSchema.StabilityKey;
            if (root[prefix] is not YMapping map) return;
            foreach (var kind in StabilityKinds.Unhealthy)
            {
                var rulePath = $"{prefix}.{kind.Word()}";
                if (map[kind.Word()] is not YMapping rule || rule["action"] is not YScalar actionNode) continue;
                if (SpecSchema.Find(rulePath + ".action")!.Convert(actionNode, out _) is not string action || action == StabilityConstants.ActionRestart) continue;
                foreach (var (keyNode, _) in rule.Entries)
                {
                    var key = SpecSchema.FindUnder(rulePath, keyNode.Value)?.Key ?? keyNode.Value;
                    if (SpecSchema.RestartOnlyKeys.Contains(key))
                        errors.Add(new SpecError(file, keyNode.Location, rulePath + "." + key, $"applies only when action is restart; action is {action}"));
                }
            }
            bool Clean() => !errors.Any(e => e.KeyPath == prefix || e.KeyPath.StartsWith(prefix + ".", StringComparison.Ordinal));
            if (!Clean()) return;
            var stability = spec.Stability;
            var problems = stability.Monitor.Validate().Select(p => p with { KeyPath = "monitor." + p.KeyPath }).Concat(stability.Policy.Validate());
            foreach (var problem in problems)
                errors.Add(new SpecError(file, LocateIn(map, problem.KeyPath), prefix + "." + problem.KeyPath, problem.Message));
            if (!Clean()) return;
            // Every change must name a sweepable key and fit its type, for as many restarts as allowed.
            var badKeys = new HashSet<string>();
            foreach (var kind in StabilityKinds.Unhealthy)
            {
                var rule = stability.Policy.For(kind);
                for (int i = 0; i < rule.Changes.Count; i++)
                {
                    var key = rule.Changes[i].Key;
                    var path = $"{kind.Word()}.changes[{i}]";
                    if (SpecSchema.Find(key) is not { Sweepable: true } && badKeys.Add(key))
                        errors.Add(new SpecError(file, LocateIn(map, path), prefix + "." + path,
                            $"a change must name a trainable setting; '{key}' is not one{(SpecSchema.Nearest(key, SpecSchema.Settings.Where(s => s.Sweepable).Select(s => s.Path)) is { } near ? $" (did you mean '{near}'?)" : "")}"));
                }
            }
            foreach (var problem in new RestartPolicy(stability.Policy).Check(TrainableValues.Lookup(spec.Trainable)))
                if (!badKeys.Any(k => problem.Message.StartsWith(k + ":", StringComparison.Ordinal)))
                    errors.Add(new SpecError(file, LocateIn(map, problem.KeyPath), prefix + "." + problem.KeyPath, problem.Message));
        }

        /// <summary>The location of a key path such as <c>diverged.changes[1]</c> inside <paramref name="root"/>.</summary>
        private static SourceLocation LocateIn(YNode root, string path)
        {
            var location = root.Location;
            YNode node = root;
            foreach (var raw in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
            {
                var part = raw;
                int? index = null;
                int bracket = raw.IndexOf('[');
                if (bracket >= 0 && int.TryParse(raw.AsSpan(bracket + 1, raw.Length - bracket - 2), out var i)) { part = raw[..bracket]; index = i; }
                if (node is not YMapping m) break;
                var entry = m.Entries.FirstOrDefault(e => e.Key.Value == part || (part == "changes" && e.Key.Value == "change"));
                if (entry.Key is null) break;
                location = entry.Key.Location;
                node = entry.Value;
                if (index is { } at && node is YSequence q && at < q.Items.Count) { node = q.Items[at]; location = node.Location; }
            }
            return location;
        }

        private static readonly string[] DomainKinds = ["values", "uniform", "log_uniform", "int_uniform", "normal"];
        private static readonly string[] DomainKeys = [.. DomainKinds, "q", "when"];

        private Search.ParameterDefinition? BindDomain(string key, string path, Setting setting, YMapping map)
        {
            int before = errors.Count;
            foreach (var (k, _) in map.Entries.Where(e => !DomainKeys.Contains(e.Key.Value)))
            {
                var near = SpecSchema.Nearest(k.Value, DomainKeys);
                errors.Add(new SpecError(file, k.Location, path + "." + k.Value,
                    $"unknown key '{k.Value}'{(near is null ? "" : $"; did you mean '{near}'?")} (valid keys here: {string.Join(", ", DomainKeys)})"));
            }
            var kinds = map.Entries.Where(e => DomainKinds.Contains(e.Key.Value)).ToList();
            if (kinds.Count != 1)
            {
                bool typo = map.Entries.Any(e => !DomainKeys.Contains(e.Key.Value) && SpecSchema.Nearest(e.Key.Value, DomainKinds) is not null);
                if (kinds.Count > 1)
                    errors.Add(new SpecError(file, kinds[1].Key.Location, path + "." + kinds[1].Key.Value, $"a parameter has one domain; found both '{kinds[0].Key.Value}' and '{kinds[1].Key.Value}'"));
                else if (!typo)
                    errors.Add(new SpecError(file, map.Location, path, $"missing a domain: one of {string.Join(", ", DomainKinds)}"));
                return null;
            }
            var (kindNode, body) = kinds[0];
            var kind = kindNode.Value;
            var bodyPath = path + "." + kind;

            double? q = null;
            if (map["q"] is { } qNode)
            {
                if (kind == "values") errors.Add(new SpecError(file, qNode.Location, path + ".q", "'q' (quantization step) goes with uniform, log_uniform, int_uniform or normal, not with values"));
                else if (qNode is YScalar qs && !qs.Quoted && double.TryParse(qs.Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var qv) && double.IsFinite(qv) && qv > 0) q = qv;
                else errors.Add(new SpecError(file, qNode.Location, path + ".q", $"expected a positive number, found {Found(qNode)}"));
            }

            Search.ParameterDomain? domain = null;
            if (kind == "values")
            {
                if (body is not YSequence seq) errors.Add(new SpecError(file, body.Location, bodyPath, $"expected a list of values, found {Found(body)}"));
                else if (seq.Items.Count == 0) errors.Add(new SpecError(file, seq.Location, bodyPath, "expected at least one value, found an empty list"));
                else
                {
                    var typed = new List<object>();
                    for (int i = 0; i < seq.Items.Count; i++)
                    {
                        var item = seq.Items[i];
                        if (item is not YScalar scalar) { errors.Add(new SpecError(file, item.Location, $"{bodyPath}[{i}]", $"expected {setting.Expected}, found {Found(item)}")); continue; }
                        var v = setting.Convert(scalar, out var error);
                        if (error is not null) errors.Add(new SpecError(file, item.Location, $"{bodyPath}[{i}]", error));
                        else if (v is not null) typed.Add(v);
                        else errors.Add(new SpecError(file, item.Location, $"{bodyPath}[{i}]", $"a swept value cannot be null: expected {setting.Expected.Replace(" or null", "", StringComparison.Ordinal)}"));
                    }
                    if (typed.Count == seq.Items.Count) domain = Try(() => Search.ParameterDomain.Values([.. typed]), body, bodyPath);
                }
            }
            else
            {
                bool integer = kind == "int_uniform";
                if (setting.Type == SettingType.Integer && !integer)
                    errors.Add(new SpecError(file, kindNode.Location, bodyPath, $"{key} takes integers: use int_uniform or values"));
                else if (setting.Type is not (SettingType.Number or SettingType.Integer or SettingType.Any))
                    errors.Add(new SpecError(file, kindNode.Location, bodyPath, $"{key} takes {setting.Expected}: use values"));
                else if (Pair(body, bodyPath) is var (a, b))
                {
                    if (kind == "normal")
                    {
                        if (b <= 0) errors.Add(new SpecError(file, body.Location, bodyPath, $"expected [mean, sigma] with sigma > 0, found sigma {b}"));
                        else domain = Try(() => Search.ParameterDomain.Normal(a, b, q), body, bodyPath);
                    }
                    else if (a >= b) errors.Add(new SpecError(file, body.Location, bodyPath, $"expected [low, high] with low < high, found low {a} >= high {b}"));
                    else if (kind == "log_uniform" && a <= 0) errors.Add(new SpecError(file, body.Location, bodyPath, $"a log domain needs low > 0, found low {a}"));
                    else if (integer && (a != Math.Floor(a) || b != Math.Floor(b) || (q is { } iq && iq != Math.Floor(iq))))
                        errors.Add(new SpecError(file, body.Location, bodyPath, $"int_uniform takes integer bounds (and an integer q), found [{a}, {b}]"));
                    else
                    {
                        foreach (var bound in new[] { a, b })
                            if (setting.Check(setting.Type == SettingType.Integer || (integer && setting.Type == SettingType.Any) ? (object)(long)bound : bound) is { } rangeError)
                                errors.Add(new SpecError(file, body.Location, bodyPath, $"bound {bound}: {rangeError}"));
                        if (errors.Count == before)
                            domain = kind switch
                            {
                                "uniform" => Try(() => Search.ParameterDomain.Uniform(a, b, q), body, bodyPath),
                                "log_uniform" => Try(() => Search.ParameterDomain.LogUniform(a, b, q), body, bodyPath),
                                _ => Try(() => Search.ParameterDomain.IntUniform((long)a, (long)b, q is null ? null : (long)q.Value), body, bodyPath),
                            };
                    }
                }
            }

            Search.ParameterCondition? when = null;
            if (map["when"] is { } whenNode) when = BindCondition(whenNode, path + ".when");
            return domain is null || errors.Count > before ? null : new Search.ParameterDefinition(key, domain, when);
        }

        private Search.ParameterCondition? BindCondition(YNode node, string path)
        {
            if (node is not YMapping map || map.Entries.Count == 0)
            {
                errors.Add(new SpecError(file, node.Location, path, $"expected a mapping such as '{{trainable.optimizer.name: sgd}}', found {Found(node)}"));
                return null;
            }
            var clauses = new List<Search.ConditionClause>();
            foreach (var (k, v) in map.Entries)
            {
                var items = v is YSequence seq ? seq.Items : [v];
                var values = new List<object>();
                foreach (var item in items)
                {
                    if (item is not YScalar scalar) { errors.Add(new SpecError(file, item.Location, path + "." + k.Value, $"expected a value or a list of values, found {Found(item)}")); continue; }
                    var setting = SpecSchema.Find(k.Value);
                    object? value = setting is null ? Setting.Plain(scalar) : setting.Convert(scalar, out var error);
                    if (setting is not null && value is null) errors.Add(new SpecError(file, item.Location, path + "." + k.Value, $"expected {setting.Expected}, found {Found(item)}"));
                    else if (value is not null) values.Add(value);
                }
                clauses.Add(new Search.ConditionClause(k.Value, values));
            }
            return new Search.ParameterCondition(clauses);
        }

        /// <summary>A list of strings (a program's arguments); numbers and booleans in it are taken as written.</summary>
        private IReadOnlyList<string>? BindStrings(YNode node, string path, Setting setting)
        {
            if (node is not YSequence list || list.Items.Count == 0)
            {
                errors.Add(new SpecError(file, node.Location, path, $"expected {setting.Expected}, found {(node is YSequence ? "an empty list" : Found(node))}"));
                return null;
            }
            var result = new List<string>();
            for (int i = 0; i < list.Items.Count; i++)
            {
                if (list.Items[i] is YScalar { IsNull: false } item) result.Add(item.Value);
                else errors.Add(new SpecError(file, list.Items[i].Location, $"{path}[{i}]", $"expected a string, found {Found(list.Items[i])}"));
            }
            return result.Count == list.Items.Count ? result : null;
        }

        /// <summary>
        /// <c>trainable.args</c>: a mapping of names to strings, numbers and booleans; nested mappings give dotted names
        /// (<c>block: {depth: 2}</c> is <c>block.depth</c>). A null value is as if the key were not written.
        /// </summary>
        public SweepSpec BindArgs(YNode node, SweepSpec spec)
        {
            if (node is not YMapping map)
            {
                errors.Add(new SpecError(file, node.Location, SpecSchema.ArgsKey, $"expected a mapping of names to values, such as '{{depth: 2, activation: relu}}', found {Found(node)}"));
                return spec;
            }
            var args = spec.Trainable.Args;
            void Walk(YMapping m, string prefix)
            {
                foreach (var (keyNode, value) in m.Entries)
                {
                    var name = prefix + keyNode.Value;
                    var path = SpecSchema.ArgsKey + "." + name;
                    if (!SpecSchema.IsArgName(keyNode.Value) || keyNode.Value.Contains('.'))
                    {
                        errors.Add(new SpecError(file, keyNode.Location, path, $"'{keyNode.Value}' is not a valid name: use letters, digits, '_' and '-', starting with a letter or '_'"));
                        continue;
                    }
                    if (args.TryGet(name, out _))
                    {
                        errors.Add(new SpecError(file, keyNode.Location, path, $"'{name}' is given twice; give it once"));
                        continue;
                    }
                    switch (value)
                    {
                        case YMapping nested: Walk(nested, name + "."); break;
                        case YScalar { IsNull: true }: break;
                        case YScalar scalar: args = args.With(name, Setting.Plain(scalar)); break;
                        default:
                            errors.Add(new SpecError(file, value.Location, path, $"expected a string, number, boolean or a mapping of further names, found {Found(value)}"));
                            break;
                    }
                }
            }
            Walk(map, "");
            return spec with { Trainable = spec.Trainable with { Args = args } };
        }

        /// <summary>
        /// What a trainable must be: a built-in model, a plug-in (assembly and type, both) or a program (<c>command</c>),
        /// exactly one; program keys only with a program; every <c>${key}</c> of a program's arguments known; a data set
        /// that is known or has a format, and a folder for any set but the default one.
        /// </summary>
        public void CheckTrainable(YMapping root, SweepSpec spec)
        {
            if (root["trainable"] is not YMapping trainable) return;
            var t = spec.Trainable;
            var modelNode = trainable["model"];
            var commandNode = trainable["command"];
            if (modelNode is null && commandNode is null)
                errors.Add(new SpecError(file, trainable.Location, SpecSchema.ModelKey, "missing required key 'model' (a built-in name or a plug-in {assembly, type}), or 'command' to run a program"));
            if (modelNode is not null && commandNode is not null)
                errors.Add(new SpecError(file, commandNode.Location, SpecSchema.CommandKey, "give either 'model' or 'command', not both: a trial runs one of them"));
            if (modelNode is YMapping model)
            {
                bool name = model["name"] is not null, assembly = model["assembly"] is not null, type = model["type"] is not null;
                if (name && (assembly || type))
                    errors.Add(new SpecError(file, model.Location, SpecSchema.ModelKey, "give either 'name' (a built-in model) or 'assembly' and 'type' (a plug-in), not both"));
                else if (!name && !(assembly && type))
                    errors.Add(new SpecError(file, model.Location, SpecSchema.ModelKey,
                        $"a plug-in needs both 'assembly' (the .dll) and 'type' (the full type name); missing '{(assembly ? "type" : "assembly")}'"));
                if (t.Plugin is { } plugin && (plugin.Type.Length == 0 || plugin.Assembly.Length == 0) && (assembly && type))
                    errors.Add(new SpecError(file, model.Location, SpecSchema.ModelKey, "'assembly' and 'type' must not be empty"));
            }
            if (commandNode is null)
                foreach (var key in new[] { "workdir", "kill_grace" })
                    if (trainable.Entries.FirstOrDefault(e => e.Key.Value == key).Key is { } k)
                        errors.Add(new SpecError(file, k.Location, "trainable." + key, $"applies only to a program trainable ('command'); this trainable has none"));
            if (t.Command is { Argv.Count: > 0 } command && commandNode is YSequence argv)
            {
                var parameterKeys = root[SpecSchema.ParametersKey] is YMapping p ? p.Entries.Select(e => e.Key.Value).ToHashSet() : [];
                for (int i = 0; i < command.Argv.Count && i < argv.Items.Count; i++)
                {
                    var keys = CommandPlaceholders.Keys(command.Argv[i], out var syntax);
                    foreach (var key in keys)
                    {
                        if (CommandPlaceholders.IsTrialKey(key)) continue;
                        bool known = SpecSchema.IsArgKey(key)
                            ? t.Args.TryGet(key[(SpecSchema.ArgsKey.Length + 1)..], out _) || parameterKeys.Contains(key) || VariantSets(root, key)
                            : SpecSchema.Find(key) is { Sweepable: true };
                        if (!known)
                            errors.Add(new SpecError(file, argv.Items[i].Location, $"{SpecSchema.CommandKey}[{i}]", SpecSchema.IsArgKey(key)
                                ? $"'${{{key}}}' has no value: set {key[(SpecSchema.ArgsKey.Length + 1)..]} under trainable.args, or sweep {key}"
                                : $"'${{{key}}}' names no trainable key{(SpecSchema.Nearest(key, SpecSchema.Settings.Where(s => s.Sweepable).Select(s => s.Path).Concat(CommandPlaceholders.TrialKeys)) is { } near ? $"; did you mean '{near}'?" : "")}"));
                    }
                    if (syntax is not null) errors.Add(new SpecError(file, argv.Items[i].Location, $"{SpecSchema.CommandKey}[{i}]", syntax));
                }
            }
            if (SpecSchema.DataFreeModels.Contains(t.Model)) return;
            var dataset = trainable["dataset"] as YMapping;
            var d = t.Dataset;
            if (d.Format is null && !DatasetFormats.Known.ContainsKey(d.Name))
                errors.Add(new SpecError(file, (dataset?["name"] ?? (YNode?)dataset ?? trainable).Location, "trainable.dataset.name",
                    $"unknown data set '{d.Name}' (known: {string.Join(", ", DatasetFormats.Known.Keys)}); for files of your own, set trainable.dataset.format ({string.Join(", ", DatasetFormats.All)})"));
            else if (dataset?["path"] is null && (d.Name != "fashion_mnist" || d.Format is not (null or DatasetFormats.Idx)))
                errors.Add(new SpecError(file, (dataset ?? trainable).Location, "trainable.dataset.path",
                    $"missing required key 'path': the folder of the data set's files (only fashion_mnist has a default, {new DatasetSpec().Path})"));
        }

        /// <summary>Whether a variant sets <paramref name="key"/>.</summary>
        private static bool VariantSets(YMapping root, string key) =>
            root[SpecSchema.VariantsKey] is YMapping variants && variants.Entries.Any(v => v.Value is YMapping m && m.Entries.Any(e => e.Key.Value == key));

        private (double, double)? Pair(YNode node, string path)
        {
            if (node is YSequence { Items: [YScalar a, YScalar b] }
                && !a.Quoted && !b.Quoted
                && double.TryParse(a.Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var x) && double.IsFinite(x)
                && double.TryParse(b.Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var y) && double.IsFinite(y))
                return (x, y);
            errors.Add(new SpecError(file, node.Location, path, $"expected a list of two numbers [low, high], found {Found(node)}"));
            return null;
        }

        private Search.ParameterDomain? Try(Func<Search.ParameterDomain> make, YNode node, string path)
        {
            try { return make(); }
            catch (ArgumentException ex)
            {
                errors.Add(new SpecError(file, node.Location, path, ex.Message));
                return null;
            }
        }

        private static string Found(YNode node) => node switch
        {
            YMapping => "a mapping",
            YSequence q => $"a list of {q.Items.Count} item(s)",
            YScalar s when s.IsNull => "nothing (null)",
            YScalar s => Setting.Describe(s),
            _ => "something else",
        };
    }
}
