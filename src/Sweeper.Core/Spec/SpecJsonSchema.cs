using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Sweeper.Core.Model;
using Sweeper.Core.Stability;

namespace Sweeper.Core.Spec;

/// <summary>
/// A JSON Schema (draft 2020-12) of a sweep spec, generated from <see cref="SpecSchema"/>: every section and key with its
/// type, description, choices, range and default; required keys; no unknown keys (as the loader); the shorthands
/// (<c>model: synthetic</c>, <c>backoff: 30s</c>); <c>trainable.args</c>; the parameters' domains and conditions;
/// <c>${env:NAME}</c> wherever a value is not text (the loader replaces it before it types the value); and the rules
/// across keys that a schema can say (model or command, restart-only keys, a budget for random search, finite grids).
/// Editors read it to complete and check keys: <c># yaml-language-server: $schema=docs/sweep.schema.json</c>.
/// Scalars are typed as YAML reads them (<c>0.1</c> a number, <c>"0.1"</c> a string, <c>true</c> a boolean).
/// </summary>
public static class SpecJsonSchema
{
    public const string Dialect = "https://json-schema.org/draft/2020-12/schema";

    /// <summary>A reference to an environment variable, as <see cref="SpecEnvironment"/> reads it.</summary>
    public const string EnvPattern = @"\$\{env:[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}";

    /// <summary>A name in <c>trainable.args</c> (one level of its nesting): <see cref="SpecSchema.IsArgName"/>.</summary>
    private const string ArgName = "[A-Za-z_][A-Za-z0-9_-]*";

    /// <summary>A swept or changed <c>trainable.args.KEY</c>.</summary>
    private static readonly string ArgKeyPattern = $"^{Regex.Escape(SpecSchema.ArgsKey)}\\.{ArgName}(\\.{ArgName})*$";

    private const string EnvDef = "env-reference";
    private const string Args = "trainable-args";
    private const string Condition = "condition";
    private const string Scalar = "scalar";

    /// <summary>The schema as indented JSON with "\n" line endings and a final newline (docs/sweep.schema.json).</summary>
    public static string Text() =>
        Generate().ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping })
            .ReplaceLineEndings("\n") + "\n";

    public static JsonObject Generate()
    {
        var defs = new JsonObject
        {
            [EnvDef] = new JsonObject
            {
                ["description"] = "A reference to an environment variable, `${env:NAME}` or `${env:NAME:-default}`, replaced before the value is read.",
                ["type"] = "string",
                ["pattern"] = EnvPattern,
            },
            [Scalar] = new JsonObject { ["type"] = Types("string", "number", "boolean") },
            [Args] = new JsonObject
            {
                ["description"] = "Names (letters, digits, `_` and `-`, starting with a letter or `_`) to strings, numbers and booleans, or to mappings of further names " +
                    "(`block: {depth: 2}` is `trainable.args.block.depth`); a name with no value is as if it were not written.",
                ["type"] = "object",
                ["propertyNames"] = new JsonObject { ["pattern"] = $"^{ArgName}$" },
                ["additionalProperties"] = new JsonObject
                {
                    ["anyOf"] = new JsonArray(new JsonObject { ["type"] = Types("string", "number", "boolean", "null") }, Ref(Args)),
                },
            },
        };
        var defaults = DefaultsSpec();
        foreach (var s in SpecSchema.Settings) defs[s.Path] = Property(s, defaults);
        defs[Condition] = ConditionSchema();

        var root = new JsonObject
        {
            ["$schema"] = Dialect,
            ["title"] = "Sweeper sweep spec",
            ["description"] = "A sweep spec of Sweeper (docs/spec.md), generated from the loader's key tables by `sweeper schema`.",
        };
        foreach (var (k, v) in SectionSchema(""))
            root[k] = v?.DeepClone();
        root["allOf"] = new JsonArray(BudgetRule(), FiniteGridRule());
        root["$defs"] = defs;
        return root;
    }

    /// <summary>The keys that <c>parameters</c>, <c>variants</c>, conditions and changes may name (besides <c>trainable.args.KEY</c>).</summary>
    public static IReadOnlyList<string> SweepableKeys { get; } =
    [
        .. SpecSchema.Settings.Where(s => s.Sweepable).Select(s => s.Path),
        .. SpecSchema.Sections.Where(s => s.Shorthand is not null && SpecSchema.Find(s.Path) is { Sweepable: true }).Select(s => s.Path),
    ];

    private static JsonObject SectionSchema(string path)
    {
        var section = SpecSchema.FindSection(path);
        var properties = new JsonObject();
        var required = new JsonArray();
        var rules = new JsonArray();
        var prefix = path.Length == 0 ? "" : path + ".";
        foreach (var key in SpecSchema.KeysUnder(path))
        {
            var full = prefix + key;
            if (SpecSchema.FindSection(full) is { } sub)
            {
                properties[key] = full switch
                {
                    SpecSchema.ArgsKey => Nullable(Describe(Ref(Args), sub)),
                    SpecSchema.ParametersKey => ParametersSchema(sub),
                    SpecSchema.VariantsKey => VariantsSchema(sub),
                    _ => SubsectionSchema(sub),
                };
                if (sub.Required) required.Add(key);
                continue;
            }
            var setting = SpecSchema.Find(full)!;
            properties[key] = Ref(full);
            if (setting.Required) required.Add(key);
            if (setting.Alias is { } alias)
            {
                properties[alias] = Ref(full);
                rules.Add(new JsonObject { ["not"] = new JsonObject { ["required"] = new JsonArray(key, alias) } });
            }
        }
        var schema = new JsonObject { ["type"] = "object" };
        if (section is not null) schema = Describe(schema, section);
        schema["properties"] = properties;
        if (required.Count > 0) schema["required"] = required;
        schema["additionalProperties"] = false;
        foreach (var rule in SectionRules(path)) rules.Add(rule);
        if (rules.Count > 0) schema["allOf"] = rules;
        return schema;
    }

    /// <summary>A section under another: a mapping, or the scalar of its shorthand key, or nothing where the loader allows that.</summary>
    private static JsonObject SubsectionSchema(Section section)
    {
        var mapping = SectionSchema(section.Path);
        if (section.Shorthand is { } shorthand)
        {
            var either = new JsonObject { ["anyOf"] = new JsonArray(Ref(section.Path + "." + shorthand), mapping) };
            mapping.Remove("description");
            return Describe(either, section);
        }
        return section.NullMeansAbsent ? Nullable(mapping) : mapping;
    }

    /// <summary>Rules across the keys of one section, as the loader checks them after reading each key.</summary>
    private static IEnumerable<JsonObject> SectionRules(string path)
    {
        if (path == "trainable")
        {
            // Exactly one of a model and a program; the program's own keys only with a program.
            yield return new JsonObject { ["oneOf"] = new JsonArray(Required("model"), Required("command")) };
            yield return new JsonObject
            {
                ["dependentRequired"] = new JsonObject { ["workdir"] = new JsonArray("command"), ["kill_grace"] = new JsonArray("command") },
            };
        }
        if (path == SpecSchema.ModelKey)
        {
            // A built-in's name, or a plug-in's assembly and type (both, not empty).
            yield return new JsonObject
            {
                ["oneOf"] = new JsonArray(
                    new JsonObject { ["required"] = new JsonArray("name"), ["not"] = new JsonObject { ["anyOf"] = new JsonArray(Required("assembly"), Required("type")) } },
                    new JsonObject
                    {
                        ["required"] = new JsonArray("assembly", "type"),
                        ["properties"] = new JsonObject { ["assembly"] = new JsonObject { ["minLength"] = 1 }, ["type"] = new JsonObject { ["minLength"] = 1 } },
                    }),
            };
        }
        if (StabilityKinds.Unhealthy.Any(k => path == $"{SpecSchema.StabilityKey}.{k.Word()}"))
        {
            // The restart-only keys with an action that is not restart.
            var forbidden = new JsonObject();
            foreach (var key in SpecSchema.RestartOnlyKeys) forbidden[key] = false;
            foreach (var s in SpecSchema.Settings.Where(s => s.Alias is not null && s.Path.StartsWith(path + ".", StringComparison.Ordinal) && SpecSchema.RestartOnlyKeys.Contains(s.Key)))
                forbidden[s.Alias!] = false;
            yield return new JsonObject
            {
                ["if"] = new JsonObject
                {
                    ["required"] = new JsonArray("action"),
                    ["properties"] = new JsonObject
                    {
                        ["action"] = new JsonObject { ["enum"] = Array(SpecSchema.StabilityActions.Where(a => a != StabilityConstants.ActionRestart)) },
                    },
                },
                ["then"] = new JsonObject { ["properties"] = forbidden },
            };
        }
    }

    /// <summary>Random and TPE search need search.num_samples or stop.max_trials.</summary>
    private static JsonObject BudgetRule() => new()
    {
        ["if"] = new JsonObject
        {
            ["required"] = new JsonArray("search"),
            ["properties"] = new JsonObject
            {
                ["search"] = new JsonObject
                {
                    ["required"] = new JsonArray("algorithm"),
                    ["properties"] = new JsonObject { ["algorithm"] = new JsonObject { ["enum"] = Array(SpecSchema.Algorithms.Where(a => a != "grid")) } },
                },
            },
        },
        ["then"] = new JsonObject
        {
            ["anyOf"] = new JsonArray(
                PresentIn("search", "num_samples"),
                PresentIn("stop", "max_trials")),
        },
    };

    /// <summary>A grid (the default search) without search.num_samples enumerates its domains: each must be finite.</summary>
    private static JsonObject FiniteGridRule() => new()
    {
        ["if"] = new JsonObject
        {
            ["properties"] = new JsonObject
            {
                ["search"] = new JsonObject
                {
                    ["properties"] = new JsonObject { ["algorithm"] = new JsonObject { ["const"] = "grid" }, ["num_samples"] = new JsonObject { ["type"] = "null" } },
                },
            },
        },
        ["then"] = new JsonObject
        {
            ["properties"] = new JsonObject
            {
                [SpecSchema.ParametersKey] = new JsonObject
                {
                    ["additionalProperties"] = new JsonObject
                    {
                        ["anyOf"] = new JsonArray(
                            Required("values"),
                            Required("int_uniform"),
                            new JsonObject { ["required"] = new JsonArray("q"), ["not"] = Required("normal") }),
                    },
                },
            },
        },
    };

    /// <summary><c>section.key</c> is given and not null.</summary>
    private static JsonObject PresentIn(string section, string key) => new()
    {
        ["required"] = new JsonArray(section),
        ["properties"] = new JsonObject
        {
            [section] = new JsonObject
            {
                ["required"] = new JsonArray(key),
                ["properties"] = new JsonObject { [key] = new JsonObject { ["not"] = new JsonObject { ["type"] = "null" } } },
            },
        },
    };

    private static JsonObject ParametersSchema(Section section)
    {
        var properties = new JsonObject();
        foreach (var key in SweepableKeys) properties[key] = Domain(SpecSchema.Find(key)!);
        var schema = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = properties,
            ["patternProperties"] = new JsonObject { [ArgKeyPattern] = Domain(SpecSchema.Find(SpecSchema.ArgsKey + ".x")!) },
            ["additionalProperties"] = false,
        };
        return Nullable(Describe(schema, section));
    }

    private static JsonObject VariantsSchema(Section section)
    {
        var settings = new JsonObject();
        foreach (var key in SweepableKeys) settings[key] = NotNull(SpecSchema.Find(key)!);
        var schema = new JsonObject
        {
            ["type"] = "object",
            ["minProperties"] = 1,
            ["additionalProperties"] = new JsonObject
            {
                ["type"] = "object",
                ["properties"] = settings,
                ["patternProperties"] = new JsonObject { [ArgKeyPattern] = Ref(Scalar) },
                ["additionalProperties"] = false,
            },
        };
        return Nullable(Describe(schema, section));
    }

    /// <summary>
    /// <c>when:</c> of a parameter: keys of earlier swept parameters (or <c>variant</c>), each with a value or a list of
    /// values it must take.
    /// </summary>
    private static JsonObject ConditionSchema()
    {
        static JsonObject OneOrMany(JsonObject value) => new()
        {
            ["anyOf"] = new JsonArray(value, new JsonObject { ["type"] = "array", ["items"] = value.DeepClone() }),
        };
        var properties = new JsonObject();
        foreach (var key in SweepableKeys) properties[key] = OneOrMany(NotNull(SpecSchema.Find(key)!));
        properties[SpecSchema.VariantParameter] = OneOrMany(Ref(Scalar));
        return new JsonObject
        {
            ["description"] = "The parameter is active only when every key named here (a parameter defined before it) has one of the values given.",
            ["type"] = "object",
            ["minProperties"] = 1,
            ["properties"] = properties,
            ["patternProperties"] = new JsonObject { [ArgKeyPattern] = OneOrMany(Ref(Scalar)) },
            ["additionalProperties"] = false,
        };
    }

    /// <summary>A parameter's domain for <paramref name="setting"/>: the domain kinds its type allows, each with its keys.</summary>
    private static JsonObject Domain(Setting setting)
    {
        var branches = new JsonArray(Branch("values", new JsonObject { ["type"] = "array", ["minItems"] = 1, ["items"] = NotNull(setting) }, q: null));
        bool real = setting.Type is SettingType.Number or SettingType.Any;
        bool integral = setting.Type is SettingType.Number or SettingType.Integer or SettingType.Any;
        var positive = Env(new JsonObject { ["type"] = "number", ["exclusiveMinimum"] = 0 });
        if (real)
        {
            var bound = Env(Bounds(new JsonObject { ["type"] = "number" }, setting.Type == SettingType.Any ? null : setting.Range));
            branches.Add(Branch("uniform", Pair(bound, bound.DeepClone()), positive));
            var logLow = new JsonObject { ["allOf"] = new JsonArray(bound.DeepClone(), Env(new JsonObject { ["type"] = "number", ["exclusiveMinimum"] = 0 })) };
            branches.Add(Branch("log_uniform", Pair(logLow, bound.DeepClone()), positive.DeepClone()));
            branches.Add(Branch("normal", Pair(Env(new JsonObject { ["type"] = "number" }), positive.DeepClone()), positive.DeepClone()));
        }
        if (integral)
        {
            var bound = Env(Bounds(new JsonObject { ["type"] = "integer" }, setting.Type == SettingType.Any ? null : setting.Range));
            branches.Add(Branch("int_uniform", Pair(bound, bound.DeepClone()), Env(new JsonObject { ["type"] = "integer", ["exclusiveMinimum"] = 0 })));
        }
        return new JsonObject
        {
            ["description"] = $"The domain swept for `{setting.Path}`: " + (real ? "values, uniform, log_uniform, int_uniform or normal" : integral ? "values or int_uniform" : "values") +
                " (q: a quantization step), and when: the condition under which it is active.",
            ["anyOf"] = branches,
        };

        static JsonObject Pair(JsonNode low, JsonNode high) => new()
        {
            ["type"] = "array", ["prefixItems"] = new JsonArray(low, high), ["minItems"] = 2, ["maxItems"] = 2,
        };

        static JsonObject Branch(string kind, JsonObject body, JsonNode? q)
        {
            var properties = new JsonObject { [kind] = body };
            if (q is not null) properties["q"] = q;
            properties["when"] = Ref(Condition);
            return new JsonObject { ["type"] = "object", ["required"] = new JsonArray(kind), ["properties"] = properties, ["additionalProperties"] = false };
        }
    }

    /// <summary>The <c>$defs</c> entry of a setting: its value, description and default.</summary>
    private static JsonObject Property(Setting setting, SweepSpec defaults)
    {
        var schema = new JsonObject();
        var description = setting.Description;
        if (!setting.Required && setting.Default is { } text) description += " Default: " + text + ".";
        if (setting.Required) description += " Required.";
        schema["description"] = description;
        foreach (var (k, v) in setting.Nullable ? Nullable(Value(setting)) : Value(setting)) schema[k] = v?.DeepClone();
        if (!setting.Required && !setting.Path.StartsWith(SpecSchema.ModelKey + ".", StringComparison.Ordinal)
            && SpecPrinter.TryRead(defaults, setting, out var value))
            schema["default"] = Json(value);
        return schema;
    }

    /// <summary>A value of <paramref name="setting"/> that is not null (a swept, conditioned or variant's value).</summary>
    private static JsonObject NotNull(Setting setting)
    {
        var value = SpecSchema.IsArgKey(setting.Path) ? Ref(Scalar) : Ref(setting.Path);
        return setting.Nullable ? new JsonObject { ["allOf"] = new JsonArray(value, new JsonObject { ["not"] = new JsonObject { ["type"] = "null" } }) } : value;
    }

    /// <summary>The values <paramref name="setting"/> takes (not null), as YAML types them.</summary>
    private static JsonObject Value(Setting setting)
    {
        if (setting.Choices is { Count: > 0 } choices)
        {
            // The loader reads a plain true or 1 as the text "true" or "1" where a choice is text.
            var words = new JsonArray();
            foreach (var c in choices) words.Add(c);
            foreach (var c in choices)
                if (Setting.Plain(new YScalar(c, false, default)) is not string) words.Add(Json(Setting.Plain(new YScalar(c, false, default))));
            return Env(new JsonObject { ["enum"] = words });
        }
        return setting.Type switch
        {
            SettingType.Number => Env(Bounds(new JsonObject { ["type"] = "number" }, setting.Range)),
            SettingType.Integer => Env(Bounds(new JsonObject { ["type"] = "integer" }, setting.Range)),
            SettingType.Boolean => Env(new JsonObject { ["type"] = "boolean" }),
            SettingType.Duration => new JsonObject
            {
                ["anyOf"] = new JsonArray(
                    Bounds(new JsonObject { ["type"] = "number" }, setting.Range),
                    new JsonObject { ["type"] = "string", ["pattern"] = @"^\s*\+?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*(ms|s|m|h)?\s*$" },
                    Ref(EnvDef)),
            },
            SettingType.StringList => new JsonObject
            {
                ["type"] = "array",
                ["minItems"] = 1,
                ["items"] = setting.Path == SpecSchema.CommandKey
                    ? new JsonObject { ["type"] = Types("string", "number", "boolean"), ["pattern"] = PlaceholderPattern() }
                    : Ref(Scalar),
            },
            SettingType.Changes => Changes(),
            _ => Ref(Scalar), // text (a plain number or boolean is read as its text) and free-form values
        };
    }

    /// <summary>A list of <c>key: change</c> entries, or one mapping of them.</summary>
    private static JsonObject Changes()
    {
        var key = new JsonObject { ["anyOf"] = new JsonArray(new JsonObject { ["enum"] = Array(SweepableKeys) }, new JsonObject { ["pattern"] = ArgKeyPattern }) };
        JsonObject Mapping(bool one)
        {
            var m = new JsonObject { ["type"] = "object", ["propertyNames"] = key.DeepClone(), ["additionalProperties"] = Ref(Scalar) };
            if (one) { m["minProperties"] = 1; m["maxProperties"] = 1; }
            return m;
        }
        return new JsonObject
        {
            ["anyOf"] = new JsonArray(new JsonObject { ["type"] = "array", ["items"] = Mapping(one: true) }, Mapping(one: false)),
        };
    }

    /// <summary>
    /// A program argument whose <c>${...}</c> each name a trainable key, a trial key or an environment variable, and are
    /// closed (<see cref="CommandPlaceholders"/>); <c>$${</c> is a literal.
    /// </summary>
    private static string PlaceholderPattern()
    {
        var keys = string.Join("|", SweepableKeys.Concat(CommandPlaceholders.TrialKeys).OrderByDescending(k => k.Length).Select(Regex.Escape));
        return $@"^(?:[^$]|\$\$\{{|\$(?!\{{)|\$\{{\s*(?:{keys}|{Regex.Escape(SpecSchema.ArgsKey)}\.{ArgName}(?:\.{ArgName})*|env:[^}}]*)\s*\}})*$";
    }

    private static JsonObject Bounds(JsonObject schema, ValueRange? range)
    {
        if (range?.Low is { } low) schema[range.LowOpen ? "exclusiveMinimum" : "minimum"] = Number(low);
        if (range?.High is { } high) schema[range.HighOpen ? "exclusiveMaximum" : "maximum"] = Number(high);
        return schema;
    }

    /// <summary>The schema, or an environment reference in its place.</summary>
    private static JsonObject Env(JsonObject schema) => new() { ["anyOf"] = new JsonArray(schema, Ref(EnvDef)) };

    private static JsonObject Nullable(JsonObject schema)
    {
        var description = schema["description"];
        schema.Remove("description");
        var result = new JsonObject();
        if (description is not null) result["description"] = description;
        result["anyOf"] = new JsonArray(schema, new JsonObject { ["type"] = "null" });
        return result;
    }

    private static JsonObject Describe(JsonObject schema, Section section)
    {
        var description = section.Description + (section.Required ? " Required." : section.Default is { } d ? " Default: " + d + "." : "");
        if (description.Length > 0)
        {
            var copy = new JsonObject { ["description"] = description };
            foreach (var (k, v) in schema) copy[k] = v?.DeepClone();
            return copy;
        }
        return schema;
    }

    private static JsonObject Ref(string name) => new() { ["$ref"] = "#/$defs/" + name };

    private static JsonObject Required(string key) => new() { ["required"] = new JsonArray(key) };

    private static JsonArray Types(params string[] types) => Array(types);

    private static JsonArray Array(IEnumerable<string> items) => new([.. items.Select(i => (JsonNode)i)]);

    private static JsonNode Number(double x) => x == Math.Floor(x) && Math.Abs(x) < 1e15 ? JsonValue.Create((long)x) : JsonValue.Create(x);

    /// <summary>A value as the printer writes it, in JSON: durations as text, changes as a list of one-key mappings.</summary>
    private static JsonNode? Json(object? value) => value switch
    {
        null => null,
        string s => s,
        bool b => b,
        long l => l,
        int i => i,
        double d => Number(d),
        TimeSpan t => SpecDuration.Format(t),
        ChangeSet c => new JsonArray([.. c.Select(x => (JsonNode)new JsonObject { [x.Key] = x.Text })]),
        IEnumerable<string> list => Array(list),
        _ => throw new InvalidOperationException($"no JSON for a default of type {value.GetType().Name}"),
    };

    /// <summary>A spec with nothing written: what the loader starts from, with every stability rule a restart (whose keys have defaults).</summary>
    private static SweepSpec DefaultsSpec()
    {
        var rule = new StabilityRule { Action = StabilityActionKind.Restart };
        return new SweepSpec
        {
            Name = "",
            Objective = new ObjectiveSpec("", ObjectiveMode.Max),
            Trainable = new TrainableSpec { Dataset = new DatasetSpec() },
            Stability = new StabilitySection { Policy = new StabilityPolicy { Oscillating = rule, Drifting = rule, Diverged = rule } },
        };
    }
}
