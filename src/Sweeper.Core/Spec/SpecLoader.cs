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
    }

    public static SweepSpec LoadFile(string path, Options? options = null)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new SpecException([new SpecError(path, new SourceLocation(1, 1), "", "file not found")]);
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
        var errors = new List<SpecError>();
        var root = YamlTreeReader.Read(text, file, errors);
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
            var parameters = map[SpecSchema.ParametersKey];
            if (parameters is not null && !(parameters is YScalar { IsNull: true }))
                spec = spec with { Parameters = binder.BindParameters(parameters) };
            spec = ResolvePaths(spec, baseDirectory);
            if (options.CheckPaths && errors.Count == 0) CheckDatasetPaths(spec, map, file, errors);
        }
        else if (root is not null)
        {
            errors.Add(new SpecError(file, root.Location, "", "expected a mapping of keys (name, objective, trainable, ...) at the top level"));
        }
        if (errors.Count > 0)
            throw new SpecException(errors.OrderBy(e => e.Location.Line).ThenBy(e => e.Location.Column).ToList());
        return spec;
    }

    /// <summary>Applies a trial's parameters (dotted keys) to the spec; values must already be valid for their keys.</summary>
    public static SweepSpec Apply(SweepSpec spec, IEnumerable<KeyValuePair<string, object>> parameters)
    {
        foreach (var (key, value) in parameters)
        {
            var setting = SpecSchema.Find(key) ?? throw new ArgumentException($"unknown parameter key '{key}'", nameof(parameters));
            spec = setting.Apply(spec, Coerce(setting, value));
        }
        return spec;
    }

    private static object? Coerce(Setting setting, object value) => setting.Type switch
    {
        SettingType.Number => Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture),
        SettingType.Integer => Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture),
        _ => value,
    };

    private static SweepSpec ResolvePaths(SweepSpec spec, string baseDirectory)
    {
        var path = spec.Trainable.Dataset.Path;
        if (path.Length > 0 && !Path.IsPathRooted(path))
            spec = spec with { Trainable = spec.Trainable with { Dataset = spec.Trainable.Dataset with { Path = Path.GetFullPath(Path.Combine(baseDirectory, path)) } } };
        return spec;
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
            foreach (var (keyNode, value) in map.Entries)
            {
                var key = keyNode.Value;
                var path = section.Length == 0 ? key : section + "." + key;
                if (!allowed.Contains(key))
                {
                    var near = SpecSchema.Nearest(key, allowed);
                    var hint = near is null ? "" : $"; did you mean '{near}'?";
                    if (near is not null) suggested.Add(near);
                    errors.Add(new SpecError(file, keyNode.Location, path, $"unknown key '{key}'{hint} (valid keys here: {string.Join(", ", allowed)})"));
                    continue;
                }
                if (path == SpecSchema.ParametersKey) continue; // read separately
                if (SpecSchema.IsSection(path))
                {
                    if (value is YMapping sub) spec = BindSection(sub, path, spec);
                    else errors.Add(new SpecError(file, value.Location, path, $"expected a mapping of keys ({string.Join(", ", SpecSchema.KeysUnder(path))}), found {Found(value)}"));
                    continue;
                }
                var setting = SpecSchema.Find(path)!;
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

        public IReadOnlyList<ParameterSpec> BindParameters(YNode node)
        {
            var result = new List<ParameterSpec>();
            if (node is not YMapping map)
            {
                errors.Add(new SpecError(file, node.Location, SpecSchema.ParametersKey, $"expected a mapping of dotted keys to domains, e.g. 'trainable.optimizer.lr: {{values: [0.01, 0.1]}}', found {Found(node)}"));
                return result;
            }
            var sweepable = SpecSchema.Settings.Where(s => s.Sweepable).Select(s => s.Path).ToList();
            foreach (var (keyNode, domain) in map.Entries)
            {
                var key = keyNode.Value;
                var path = SpecSchema.ParametersKey + "." + key;
                var setting = SpecSchema.Find(key);
                if (setting is null || !setting.Sweepable)
                {
                    var near = SpecSchema.Nearest(key, sweepable);
                    var hint = near is null ? $" (sweepable keys: {string.Join(", ", sweepable)})" : $"; did you mean '{near}'?";
                    errors.Add(new SpecError(file, keyNode.Location, path, $"unknown parameter key '{key}'{hint}"));
                    continue;
                }
                if (domain is not YMapping domainMap)
                {
                    errors.Add(new SpecError(file, domain.Location, path, $"expected a domain mapping such as '{{values: [...]}}', found {Found(domain)}"));
                    continue;
                }
                YSequence? values = null;
                bool typo = false;
                foreach (var (dk, dv) in domainMap.Entries)
                {
                    if (dk.Value != "values")
                    {
                        var near = SpecSchema.Nearest(dk.Value, ["values"]);
                        typo |= near is not null;
                        errors.Add(new SpecError(file, dk.Location, path + "." + dk.Value,
                            $"unknown key '{dk.Value}'{(near is null ? "" : $"; did you mean '{near}'?")} (valid keys here: values)"));
                        continue;
                    }
                    if (dv is YSequence seq) values = seq;
                    else errors.Add(new SpecError(file, dv.Location, path + ".values", $"expected a list of values, found {Found(dv)}"));
                }
                if (values is null)
                {
                    if (!typo && !domainMap.Entries.Any(e => e.Key.Value == "values"))
                        errors.Add(new SpecError(file, domainMap.Location, path, "missing required key 'values'"));
                    continue;
                }
                if (values.Items.Count == 0)
                {
                    errors.Add(new SpecError(file, values.Location, path + ".values", "expected at least one value, found an empty list"));
                    continue;
                }
                var typed = new List<object>();
                for (int i = 0; i < values.Items.Count; i++)
                {
                    var item = values.Items[i];
                    var itemPath = $"{path}.values[{i}]";
                    if (item is not YScalar scalar)
                    {
                        errors.Add(new SpecError(file, item.Location, itemPath, $"expected {setting.Expected}, found {Found(item)}"));
                        continue;
                    }
                    var v = setting.Convert(scalar, out var error);
                    if (error is not null) errors.Add(new SpecError(file, item.Location, itemPath, error));
                    else if (v is not null) typed.Add(v);
                }
                result.Add(new ParameterSpec(key, typed, keyNode.Location));
            }
            return result;
        }

        private static string Found(YNode node) => node switch
        {
            YMapping => "a mapping",
            YSequence => "a list",
            YScalar s when s.IsNull => "nothing (null)",
            YScalar s => Setting.Describe(s),
            _ => "something else",
        };
    }
}
