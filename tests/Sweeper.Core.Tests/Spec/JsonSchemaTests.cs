using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using Sweeper.Core.Spec;
using Sweeper.Tests.Shared;

namespace Sweeper.Core.Tests.Spec;

/// <summary>
/// docs/sweep.schema.json, the JSON Schema generated from <see cref="SpecSchema"/> (<see cref="SpecJsonSchema"/>), checked
/// with a real validator (JsonSchema.Net): it accepts every shipped config and rejects the malformed corpus, except the
/// files listed below whose problem a JSON Schema cannot say. YAML becomes JSON through the loader's own reader, scalars
/// typed as the loader types them (<see cref="Setting.Plain"/>). After changing SpecSchema, regenerate the file with
/// <code>SWEEPER_UPDATE_DOCS=1 dotnet test tests/Sweeper.Core.Tests -c Release --filter "FullyQualifiedName~JsonSchemaTests"</code>
/// </summary>
public sealed class JsonSchemaTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string UpdateVariable = "SWEEPER_UPDATE_DOCS";

    private static readonly string Corpus = Path.Combine(AppContext.BaseDirectory, "Spec", "Corpus");

    private static readonly JsonSchema Schema = JsonSchema.FromText(SpecJsonSchema.Text(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });

    /// <summary>Corpus files that are not YAML at all: there is no JSON to validate.</summary>
    private static readonly Dictionary<string, string> NotJson = new()
    {
        ["10-yaml-syntax.yaml"] = "a YAML syntax error (an unclosed '['): the file never becomes JSON",
    };

    /// <summary>Corpus files whose problem a JSON Schema cannot express; the schema accepts them (asserted, so the list cannot rot).</summary>
    private static readonly Dictionary<string, string> BeyondSchema = new()
    {
        ["02-duplicate-key.yaml"] = "a duplicate key is an error of the YAML text; JSON objects (what a schema sees) have one value per key",
        ["04-uniform-min-not-below-max.yaml"] = "low < high compares two values of the instance; a schema checks each against constants",
        ["08-dataset-path-missing.yaml"] = "whether a folder exists is a fact of the file system, not of the document",
    };

    public static TheoryData<string> CorpusFiles() => new(Directory.GetFiles(Corpus, "*.yaml").Select(Path.GetFileName).Order()!);

    [Fact]
    public void SweepSchemaJson_IsWhatTheSchemaTableGenerates()
    {
        var path = Repository.Path("docs", "sweep.schema.json");
        var generated = SpecJsonSchema.Text();
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            if (!File.Exists(path) || File.ReadAllText(path) != generated) File.WriteAllText(path, generated);
            return;
        }
        Assert.True(File.Exists(path), $"docs/sweep.schema.json is missing; generate it with {UpdateVariable}=1 (see this class's summary)");
        var committed = File.ReadAllText(path).ReplaceLineEndings("\n");
        var ours = committed.Split('\n');
        var theirs = generated.Split('\n');
        int line = Enumerable.Range(0, Math.Min(ours.Length, theirs.Length)).FirstOrDefault(i => ours[i] != theirs[i], Math.Min(ours.Length, theirs.Length));
        Assert.True(committed == generated, $"""
            docs/sweep.schema.json differs from what SpecSchema generates now (first difference at line {line + 1}):
              file:      {(line < ours.Length ? ours[line].Trim() : "(end of file)")}
              generated: {(line < theirs.Length ? theirs[line].Trim() : "(end of file)")}
            Regenerate it: {UpdateVariable}=1 dotnet test tests/Sweeper.Core.Tests -c Release --filter "FullyQualifiedName~JsonSchemaTests"
            """);
    }

    [Fact]
    public void Schema_IsDraft202012AndValidAgainstItsMetaSchema()
    {
        var text = SpecJsonSchema.Text();
        Assert.Equal(SpecJsonSchema.Dialect, JsonNode.Parse(text)!["$schema"]!.GetValue<string>());
        var meta = MetaSchemas.Draft202012.Evaluate(JsonDocument.Parse(text).RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.True(meta.IsValid, Describe(meta));
    }

    [Fact]
    public void Schema_DescribesEverySettingAndSection_WithItsDefault()
    {
        var root = JsonNode.Parse(SpecJsonSchema.Text())!;
        var descriptions = new List<string>();
        void Collect(JsonNode? node)
        {
            if (node is JsonObject o)
                foreach (var (k, v) in o)
                {
                    if (k == "description" && v is JsonValue text) descriptions.Add(text.GetValue<string>());
                    Collect(v);
                }
            else if (node is JsonArray a)
                foreach (var item in a) Collect(item);
        }
        Collect(root);

        Assert.All(SpecSchema.Sections.Where(s => s.Description.Length > 0), s => Assert.Contains(descriptions, d => d.StartsWith(s.Description, StringComparison.Ordinal)));
        var defs = root["$defs"]!;
        Assert.All(SpecSchema.Settings, s => Assert.StartsWith(s.Description, defs[s.Path]!["description"]!.GetValue<string>(), StringComparison.Ordinal));
        Assert.Equal(0.05, defs["trainable.optimizer.lr"]!["default"]!.GetValue<double>());
        Assert.Equal("0s", defs["stability.diverged.backoff.delay"]!["default"]!.GetValue<string>());
        Assert.Equal("last_healthy", defs["stability.drifting.from"]!["default"]!.GetValue<string>());
        Assert.Null(defs["trainable.epochs"]!["default"]); // required: no default
    }

    [Theory]
    [MemberData(nameof(SpecPrinterTests.Configs), MemberType = typeof(SpecPrinterTests))]
    public void Schema_AcceptsEveryConfig_AndItsResolvedForm(string config)
    {
        var text = File.ReadAllText(Repository.Path(config));
        var resolved = SpecPrinter.Yaml(SpecLoader.LoadText(text, config, Path.GetDirectoryName(Repository.Path(config))!, new SpecLoader.Options { CheckPaths = false }));

        AssertValid(text, config);
        AssertValid(resolved, config + " (validate --print)");
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Schema_RejectsTheMalformedCorpus_ExceptWhatNoSchemaCanSay(string name)
    {
        var text = File.ReadAllText(Path.Combine(Corpus, name));
        var json = ToJson(text, out var yamlErrors);
        if (NotJson.ContainsKey(name))
        {
            Assert.Null(json);
            Assert.Contains(yamlErrors, e => e.Message.StartsWith("YAML syntax error", StringComparison.Ordinal));
            return;
        }
        var result = Evaluate(json);
        if (BeyondSchema.ContainsKey(name))
            Assert.True(result.IsValid, $"{name} is listed as beyond a schema ({BeyondSchema[name]}) but the schema rejects it: drop it from the list\n{Describe(result)}");
        else
        {
            Assert.False(result.IsValid, $"the schema accepts {name}, which the loader rejects");
            output.WriteLine(Describe(result));
        }
    }

    [Fact]
    public void ExceptionLists_NameCorpusFiles()
    {
        var files = Directory.GetFiles(Corpus, "*.yaml").Select(Path.GetFileName).ToHashSet();
        Assert.All(NotJson.Keys.Concat(BeyondSchema.Keys), f => Assert.Contains(f, files));
    }

    private const string Valid = """
        name: agree
        objective: {metric: test_accuracy}
        trainable:
          model: synthetic
          epochs: 2
        """;

    /// <summary>The schema and the loader agree on specs near a valid one (each line is appended to it, or replaces a key).</summary>
    [Theory]
    [InlineData("seed: ${env:SEED:-3}", true)]
    [InlineData("seed: \"3\"", false)] // a quoted number is text: the loader wants an integer
    [InlineData("seed: 1.5", false)]
    [InlineData("search: {algorithm: \"${env:ALGORITHM}\", num_samples: 4}", true)]
    [InlineData("search: {algorithm: tpe}", false)] // no budget
    [InlineData("search: {algorithm: tpe}\nstop: {max_trials: 5}", true)]
    [InlineData("stability:", true)]
    [InlineData("stability: {diverged: {action: stop, max_restarts: 2}}", false)]
    [InlineData("stability: {diverged: {action: restart, change: [{trainable.optimizer.lr: \"*0.5\"}], backoff: 30s}}", true)]
    [InlineData("stability: {diverged: {action: restart, backoff: {type: linear, delay: 2, max_delay: 1m}}}", true)]
    [InlineData("stability: {drifting: {action: restart, change: {trainable.optimizer.lr: \"*0.5\"}, changes: {trainable.width: 0.5}}}", false)]
    [InlineData("stability: {oscillating: {action: restart, changes: [{trainable.nonsense: 1}]}}", false)]
    [InlineData("checkpoint: {dir: null, keep: 0}", true)]
    [InlineData("parameters: {trainable.quantizer.bn_fold: {values: [qkeras, false, true]}}", true)]
    [InlineData("parameters: {trainable.input_size: {values: [null, 32]}}", false)]
    [InlineData("parameters: {trainable.optimizer.lr: {uniform: [0.01, 0.1], q: 0.01}}", true)]
    [InlineData("parameters: {trainable.optimizer.lr: {uniform: [0.01, 0.1]}}", false)] // continuous in a grid without num_samples
    [InlineData("parameters: {trainable.optimizer.lr: {normal: [0.05, 0.01], q: 0.01}}", false)] // still unbounded
    [InlineData("parameters: {trainable.optimizer.lr: {uniform: [0.01, 0.1]}}\nsearch: {num_samples: 3}", true)]
    [InlineData("parameters: {trainable.optimizer.lr: {uniform: [0.01, 20]}}\nsearch: {num_samples: 3}", false)] // lr ≤ 10
    [InlineData("parameters: {trainable.batch_size: {int_uniform: [16, 64], q: 16}}", true)]
    [InlineData("parameters: {trainable.batch_size: {int_uniform: [16, 64], q: 1.5}}", false)]
    [InlineData("parameters: {trainable.args.depth: {int_uniform: [1, 3]}}", true)]
    [InlineData("parameters: {trainable.args.2depth: {values: [1]}}", false)]
    [InlineData("parameters:\n  trainable.optimizer.name: {values: [sgd, adam]}\n  trainable.optimizer.momentum: {values: [0.9], when: {trainable.optimizer.name: sgd}}", true)]
    [InlineData("parameters: {trainable.optimizer.momentum: {values: [0.9], when: {trainable.optimizer.kind: sgd}}}", false)]
    [InlineData("parameters: {trainable.optimizer.lr: {log_uniform: [0, 0.1], q: 0.01}}", false)]
    [InlineData("parameters: {trainable.optimizer.lr: {normal: [0.05, 0]}}\nsearch: {num_samples: 2}", false)]
    [InlineData("parameters: {trainable.optimizer.lr: {values: [0.1], q: 0.01}}", false)]
    [InlineData("variants: {a: {trainable.width: 0.5}, b: {trainable.optimizer.name: adam}}", true)]
    [InlineData("variants: {a: {trainable.width: null}}", false)]
    [InlineData("variants: {a: {objective.mode: min}}", false)]
    public void Schema_AgreesWithTheLoader(string extra, bool valid)
    {
        var text = Valid + "\n" + extra + "\n";
        bool loads;
        try
        {
            SpecLoader.LoadText(text, "agree.yaml", "/specs", new SpecLoader.Options { CheckPaths = false, Environment = _ => null });
            loads = true;
        }
        catch (SpecException ex)
        {
            loads = ex.Errors.All(e => e.Message.StartsWith("environment variable", StringComparison.Ordinal)); // unset here; a schema sees the reference
        }
        var result = Evaluate(ToJson(text, out _));

        Assert.Equal(valid, loads);
        Assert.True(valid == result.IsValid, $"the loader {(valid ? "accepts" : "rejects")} it, the schema does not agree\n{Describe(result)}");
    }

    [Theory]
    [InlineData("command: [python3, train.py, \"${trainable.optimizer.lr}\", \"${trial.id}\", \"$${literal}\", \"${trainable.args.depth}\"]", true)]
    [InlineData("command: [python3, \"${trainable.optimizer.lrate}\"]", false)]
    [InlineData("command: [python3, \"${trial.id\"]", false)]
    [InlineData("command: python3 train.py", false)]
    [InlineData("command: [python3]\n  workdir: work\n  kill_grace: 2s", true)]
    public void Schema_ProgramTrainable(string trainable, bool valid)
    {
        var text = $"""
            name: p
            objective: {"{"}metric: val_accuracy{"}"}
            trainable:
              {trainable}
              epochs: 1
              args: {"{"}depth: 2{"}"}
            """;
        Assert.Equal(valid, Evaluate(ToJson(text, out _)).IsValid);
    }

    [Fact]
    public void Schema_ModelShorthandAndPlugin_AndWorkdirOnlyWithCommand()
    {
        string Spec(string trainable) => $"name: m\nobjective: {{metric: test_accuracy}}\ntrainable:\n  epochs: 1\n{trainable}\n";

        Assert.True(Evaluate(ToJson(Spec("  model: mobilenet_v2\n  dataset: {name: cifar10, path: /data}"), out _)).IsValid);
        Assert.True(Evaluate(ToJson(Spec("  model: {assembly: a.dll, type: A.B}"), out _)).IsValid);
        Assert.False(Evaluate(ToJson(Spec("  model: {name: synthetic, type: A.B}"), out _)).IsValid);
        Assert.False(Evaluate(ToJson(Spec("  model: {assembly: \"\", type: A.B}"), out _)).IsValid);
        Assert.False(Evaluate(ToJson(Spec("  model: resnet"), out _)).IsValid);
        Assert.False(Evaluate(ToJson(Spec("  model: synthetic\n  workdir: ."), out _)).IsValid);
        Assert.False(Evaluate(ToJson(Spec("  width: 0.5"), out _)).IsValid); // neither model nor command
    }

    private static void AssertValid(string yaml, string what)
    {
        var result = Evaluate(ToJson(yaml, out var errors));
        Assert.Empty(errors);
        Assert.True(result.IsValid, $"the schema rejects {what}\n{Describe(result)}");
    }

    private static EvaluationResults Evaluate(JsonNode? json) =>
        Schema.Evaluate(JsonSerializer.SerializeToElement(json), new EvaluationOptions { OutputFormat = OutputFormat.List });

    private static string Describe(EvaluationResults result) => string.Join("\n", (result.Details ?? [])
        .Where(d => !d.IsValid && d.Errors is { Count: > 0 })
        .SelectMany(d => d.Errors!.Select(e => $"  {d.InstanceLocation} ({d.EvaluationPath}): {e.Value}"))
        .Take(20));

    /// <summary>YAML as the loader reads it (<see cref="YamlTreeReader"/>), as JSON; null when the text is not one YAML document.</summary>
    private static JsonNode? ToJson(string yaml, out List<SpecError> errors)
    {
        errors = [];
        var root = YamlTreeReader.Read(yaml, "spec.yaml", errors);
        return root is null ? null : Node(root);
    }

    private static JsonNode? Node(YNode node) => node switch
    {
        YMapping m => new JsonObject(m.Entries.Select(e => new KeyValuePair<string, JsonNode?>(e.Key.Value, Node(e.Value)))),
        YSequence s => new JsonArray([.. s.Items.Select(Node)]),
        YScalar { IsNull: true } => null,
        YScalar s => Setting.Plain(s) switch
        {
            long l => JsonValue.Create(l),
            double d => JsonValue.Create(d),
            bool b => JsonValue.Create(b),
            var text => JsonValue.Create((string)text),
        },
        _ => throw new InvalidOperationException(node.GetType().Name),
    };
}
