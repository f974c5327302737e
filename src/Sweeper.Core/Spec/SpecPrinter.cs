using System.Globalization;
using Sweeper.Core.Model;
using Sweeper.Core.Search;
using Sweeper.Core.Stability;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Sweeper.Core.Spec;

/// <summary>
/// A loaded spec written back as YAML, resolved: <c>${env:...}</c> already replaced, every setting of
/// <see cref="SpecSchema"/> written with the value it has (its default when the file did not give it), shorthands written
/// out (<c>model: synthetic</c> as <c>model: {name: synthetic}</c>) and relative data set, plug-in and program paths made
/// absolute, as the loader resolved them. <see cref="SpecLoader"/> reads the text back to the same spec: the same
/// settings, parameters, variants and so the same trials.
/// </summary>
public static class SpecPrinter
{
    /// <summary>The resolved spec as YAML (block style, lists of scalars in flow style), ending in a newline.</summary>
    public static string Yaml(SweepSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var writer = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        var emitter = new Emitter(writer, new EmitterSettings().WithBestIndent(2).WithBestWidth(int.MaxValue));
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        var yaml = new Writer(emitter);
        WriteSection(yaml, spec, "");
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return writer.ToString();
    }

    /// <summary>
    /// The value <paramref name="setting"/> has in <paramref name="spec"/>, typed as the loader types it (text, long,
    /// double, bool, <see cref="TimeSpan"/>, a list of strings, a <see cref="ChangeSet"/>, or null for a nullable
    /// setting left empty); false when the setting does not apply (e.g. <c>trainable.command</c> of a built-in model).
    /// </summary>
    public static bool TryRead(SweepSpec spec, Setting setting, out object? value)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(setting);
        var path = setting.Path;
        var t = spec.Trainable;
        value = null;
        if (path.StartsWith(SpecSchema.StabilityKey + ".", StringComparison.Ordinal) && !path.StartsWith(SpecSchema.StabilityKey + ".monitor.", StringComparison.Ordinal))
            return TryReadRule(spec.Stability.Policy, path, out value);
        switch (path)
        {
            case SpecSchema.ModelKey + ".name":
                if (t.Plugin is not null || t.Command is not null) return false;
                value = t.Model;
                return true;
            case SpecSchema.ModelKey + ".assembly":
                value = t.Plugin?.Assembly;
                return value is not null;
            case SpecSchema.ModelKey + ".type":
                value = t.Plugin?.Type;
                return value is not null;
            case SpecSchema.CommandKey:
                value = t.Command?.Argv;
                return value is not null;
            case "trainable.workdir":
                value = t.Command?.WorkingDirectory;
                return value is not null;
            case "trainable.kill_grace":
                value = t.Command?.KillGrace;
                return value is not null;
        }
        if (path.StartsWith("trainable.", StringComparison.Ordinal))
            return TrainableValues.Lookup(t)(path, out value) ? true : throw Unreadable(path);
        var m = spec.Stability.Monitor;
        value = path switch
        {
            "name" => spec.Name,
            "seed" => spec.Seed,
            "objective.metric" => spec.Objective.Metric,
            "objective.mode" => spec.Objective.Mode == Model.ObjectiveMode.Min ? "min" : "max",
            "search.algorithm" => spec.Search.Algorithm,
            "search.num_samples" => (long?)spec.Search.NumSamples,
            "search.repeat" => (long)spec.Search.Repeat,
            "scheduler.name" => spec.Scheduler.Name,
            "scheduler.grace_period" => (long)spec.Scheduler.GracePeriod,
            "scheduler.reduction_factor" => (long)spec.Scheduler.ReductionFactor,
            "scheduler.max_t" => (long?)spec.Scheduler.MaxT,
            "scheduler.min_samples_required" => (long)spec.Scheduler.MinSamplesRequired,
            "stop.max_trials" => (long?)spec.Stop.MaxTrials,
            "stop.max_minutes" => spec.Stop.MaxMinutes,
            "stop.target" => spec.Stop.Target,
            "crashes.max_retries" => (long)spec.Crashes.MaxRetries,
            "crashes.backoff_seconds" => spec.Crashes.BackoffSeconds,
            "telemetry.otlp_endpoint" => spec.Telemetry.OtlpEndpoint,
            "telemetry.protocol" => spec.Telemetry.Protocol,
            "resources.max_concurrent_trials" => (long)spec.Resources.MaxConcurrentTrials,
            "checkpoint.interval_epochs" => (long)spec.Checkpoint.IntervalEpochs,
            "checkpoint.dir" => spec.Checkpoint.Dir,
            "checkpoint.keep" => (long)spec.Checkpoint.Keep,
            "output.dir" => spec.Output.Dir,
            "stability.monitor.warmup_steps" => (long)m.WarmupSteps,
            "stability.monitor.flip_window" => (long)m.FlipWindow,
            "stability.monitor.max_flip_rate" => m.MaxFlipRate,
            "stability.monitor.min_exponent" => (long)m.MinExponent,
            "stability.monitor.max_exponent" => (long)m.MaxExponent,
            "stability.monitor.drift_window" => (long)m.DriftWindow,
            "stability.monitor.drift_min_change" => (long)m.DriftMinChange,
            "stability.monitor.spike_window" => (long)m.SpikeWindow,
            "stability.monitor.loss_spike_factor" => m.LossSpikeFactor,
            "stability.monitor.grad_norm_factor" => m.GradNormFactor,
            _ => throw Unreadable(path),
        };
        return value is not null || setting.Nullable;
    }

    private static InvalidOperationException Unreadable(string path) =>
        new($"SpecPrinter has no reading of the setting '{path}': add it to SpecPrinter.TryRead");

    private static bool TryReadRule(StabilityPolicy policy, string path, out object? value)
    {
        var kind = StabilityKinds.Unhealthy.FirstOrDefault(k => path.StartsWith($"{SpecSchema.StabilityKey}.{k.Word()}.", StringComparison.Ordinal));
        var key = path[(path.IndexOf('.', SpecSchema.StabilityKey.Length + 1) + 1)..];
        var rule = policy.For(kind);
        bool restart = rule.Action == StabilityActionKind.Restart;
        value = key switch
        {
            "action" => StabilityParsing.Word(rule.Action),
            "from" when restart => StabilityParsing.Word(rule.From),
            "changes" when restart => rule.Changes,
            "max_restarts" when restart => (long)rule.MaxRestarts,
            "backoff.type" when restart => StabilityParsing.Word(rule.Backoff.Type),
            "backoff.delay" when restart => rule.Backoff.Delay,
            "backoff.max_delay" when restart => rule.Backoff.MaxDelay,
            _ when restart || SpecSchema.RestartOnlyKeys.Contains(key.Split('.')[0]) => null,
            _ => throw Unreadable(path),
        };
        return value is not null;
    }

    private static void WriteSection(Writer yaml, SweepSpec spec, string section)
    {
        yaml.Open();
        foreach (var key in SpecSchema.KeysUnder(section))
        {
            var path = section.Length == 0 ? key : section + "." + key;
            if (SpecSchema.FindSection(path) is { } sub)
            {
                if (path == SpecSchema.ArgsKey) WriteArgs(yaml, spec.Trainable.Args);
                else if (path == SpecSchema.ParametersKey) WriteParameters(yaml, spec);
                else if (path == SpecSchema.VariantsKey) WriteVariants(yaml, spec);
                else if (!sub.Separate && HasAny(spec, path))
                {
                    yaml.Scalar(key);
                    WriteSection(yaml, spec, path);
                }
                continue;
            }
            var setting = SpecSchema.Find(path)!;
            if (!TryRead(spec, setting, out var value)) continue;
            yaml.Scalar(key);
            yaml.Value(value);
        }
        yaml.Close();
    }

    /// <summary>Whether any setting under the section <paramref name="path"/> applies.</summary>
    private static bool HasAny(SweepSpec spec, string path) =>
        SpecSchema.Settings.Any(s => s.Path.StartsWith(path + ".", StringComparison.Ordinal) && TryRead(spec, s, out _));

    /// <summary><c>trainable.args</c>: the dotted names nested again (<c>block.depth</c> as <c>block: {depth: ...}</c>).</summary>
    private static void WriteArgs(Writer yaml, TrainableArgs args)
    {
        if (args.Entries.Count == 0) return;
        yaml.Scalar("args");
        void Level(IEnumerable<(string[] Name, object Value)> entries, int depth)
        {
            yaml.Open();
            foreach (var group in entries.GroupBy(e => e.Name[depth], StringComparer.Ordinal))
            {
                yaml.Scalar(group.Key);
                var leaf = group.FirstOrDefault(e => e.Name.Length == depth + 1);
                if (leaf.Name is not null) yaml.Value(leaf.Value);
                else Level(group, depth + 1);
            }
            yaml.Close();
        }
        Level(args.Entries.Select(e => (e.Key.Split('.'), e.Value)), 0);
    }

    private static void WriteParameters(Writer yaml, SweepSpec spec)
    {
        var parameters = spec.Parameters.Where(p => p.Key != SpecSchema.VariantParameter).ToList(); // variants: adds it
        if (parameters.Count == 0) return;
        yaml.Scalar(SpecSchema.ParametersKey);
        yaml.Open();
        foreach (var p in parameters)
        {
            yaml.Scalar(p.Key);
            yaml.Open();
            var d = p.Definition.Domain;
            yaml.Scalar(d.Kind);
            switch (d)
            {
                case ValuesDomain values: yaml.List(values.Choices); break;
                case UniformDomain u: yaml.List([u.Low, u.High]); Q(u.Q); break;
                case LogUniformDomain l: yaml.List([l.Low, l.High]); Q(l.Q); break;
                case IntUniformDomain i: yaml.List([i.Low, i.High]); Q(i.Q == 1 ? null : i.Q); break;
                case NormalDomain n: yaml.List([n.Mu, n.Sigma]); Q(n.Q); break;
                default: throw new InvalidOperationException($"SpecPrinter cannot write the domain {d}");
            }
            if (p.Definition.When is { } when)
            {
                yaml.Scalar("when");
                yaml.Open();
                foreach (var clause in when.Clauses)
                {
                    yaml.Scalar(clause.Key);
                    yaml.List(clause.Values);
                }
                yaml.Close();
            }
            yaml.Close();
        }
        yaml.Close();

        void Q(object? q)
        {
            if (q is null) return;
            yaml.Scalar("q");
            yaml.Value(q);
        }
    }

    private static void WriteVariants(Writer yaml, SweepSpec spec)
    {
        if (spec.Variants.Count == 0) return;
        yaml.Scalar(SpecSchema.VariantsKey);
        yaml.Open();
        foreach (var variant in spec.Variants)
        {
            yaml.Scalar(variant.Name);
            yaml.Open();
            foreach (var (key, value) in variant.Settings)
            {
                yaml.Scalar(key);
                yaml.Value(value);
            }
            yaml.Close();
        }
        yaml.Close();
    }

    /// <summary>Writes YAML events; scalars are written so that the loader types them back as they are.</summary>
    private sealed class Writer(IEmitter emitter)
    {
        public void Open() => emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, isImplicit: true, MappingStyle.Block));

        public void Close() => emitter.Emit(new MappingEnd());

        /// <summary>A key, or a string value: plain when the loader reads it back as the same text, else double-quoted.</summary>
        public void Scalar(string text) => Emit(text, IsPlainText(text) ? ScalarStyle.Plain : ScalarStyle.DoubleQuoted);

        public void List(IEnumerable<object?> items)
        {
            emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, isImplicit: true, SequenceStyle.Flow));
            foreach (var item in items) Value(item);
            emitter.Emit(new SequenceEnd());
        }

        public void Value(object? value)
        {
            switch (value)
            {
                case null: Emit("null", ScalarStyle.Plain); break;
                case string s: Scalar(s); break;
                case bool b: Emit(b ? "true" : "false", ScalarStyle.Plain); break;
                case double d: Emit(Number(d), ScalarStyle.Plain); break;
                case float f: Emit(Number(f), ScalarStyle.Plain); break;
                case TimeSpan t: Emit(Duration(t), ScalarStyle.Plain); break;
                case ChangeSet changes:
                    emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, isImplicit: true, SequenceStyle.Block));
                    foreach (var change in changes)
                    {
                        Open();
                        Scalar(change.Key);
                        // A set given as a number or boolean is written as one; every other change as the text it was read from.
                        if (change.Operation == ChangeOperation.Set && change.SetText is null) Value(change.Operand);
                        else Emit(change.Text, ScalarStyle.DoubleQuoted);
                        Close();
                    }
                    emitter.Emit(new SequenceEnd());
                    break;
                case IFormattable integer when value is long or int or short or byte or sbyte or ushort or uint or ulong:
                    Emit(integer.ToString(null, CultureInfo.InvariantCulture), ScalarStyle.Plain);
                    break;
                case IEnumerable<string> strings: List(strings); break;
                case IEnumerable<object> items: List(items); break;
                default: throw new InvalidOperationException($"SpecPrinter cannot write a {value.GetType().Name}");
            }
        }

        private void Emit(string text, ScalarStyle style) =>
            emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, text, style, isPlainImplicit: true, isQuotedImplicit: true));

        /// <summary>Text that YAML and the loader read back, unquoted, as the same text (not a number, boolean or null).</summary>
        private static bool IsPlainText(string text) =>
            text.Length > 0 && (char.IsAsciiLetter(text[0]) || text[0] is '_' or '/' or '.' || (text.Length > 1 && text[0] == '-' && text[1] == '-'))
            && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '/' or '.' or '-' or '+')
            && Setting.Plain(new YScalar(text, false, default)) is string && !new YScalar(text, false, default).IsNull;

        /// <summary>The shortest text that reads back as the same double, and as a double (never an integer).</summary>
        private static string Number(double d)
        {
            var text = d.ToString("R", CultureInfo.InvariantCulture);
            return text.Contains('.', StringComparison.Ordinal) || text.Contains('E', StringComparison.Ordinal) ? text : text + ".0";
        }

        /// <summary>A duration as a spec writes it (<c>30s</c>, <c>500ms</c>), exact: in seconds when the short form would round.</summary>
        private static string Duration(TimeSpan t)
        {
            var text = SpecDuration.Format(t);
            return SpecDuration.TryParseSeconds(text, out var s) && SpecDuration.FromSeconds(s) == t
                ? text
                : t.TotalSeconds.ToString("R", CultureInfo.InvariantCulture) + "s";
        }
    }
}
