using Sweeper.Core.Spec;
using Sweeper.Core.Trials;
using Sweeper.Core.Model;

namespace Sweeper.Core.Tests.Spec;

public sealed class SpecLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sweeper-spec-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Valid => $"""
        name: tiny
        seed: 3
        objective:
          metric: test_accuracy
          mode: max
        trainable:
          model: mobilenet_v1
          width: 0.25
          dataset:
            name: fashion_mnist
            path: {_dir}
            train_subset: 100
            test_subset: 50
          epochs: 2
          batch_size: 32
          optimizer: {"{"}name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 0.0005{"}"}
          lr_schedule: cosine
        parameters:
          trainable.optimizer.lr: {"{"}values: [0.01, 0.1]{"}"}
          trainable.width: {"{"}values: [0.25, 0.5, 1.0]{"}"}
        resources:
          max_concurrent_trials: 2
        output:
          dir: out
        """;

    private SweepSpec Load(string text) => SpecLoader.LoadText(text, "spec.yaml", _dir);

    private SpecError SingleError(string text)
    {
        var ex = Assert.Throws<SpecException>(() => Load(text));
        return Assert.Single(ex.Errors);
    }

    [Fact]
    public void LoadText_ValidSpec_BindsEveryKey()
    {
        var spec = Load(Valid);
        Assert.Equal("tiny", spec.Name);
        Assert.Equal(3, spec.Seed);
        Assert.Equal(new ObjectiveSpec("test_accuracy", ObjectiveMode.Max), spec.Objective);
        Assert.Equal("mobilenet_v1", spec.Trainable.Model);
        Assert.Equal(0.25, spec.Trainable.Width);
        Assert.Equal(_dir, spec.Trainable.Dataset.Path);
        Assert.Equal(100, spec.Trainable.Dataset.TrainSubset);
        Assert.Equal(50, spec.Trainable.Dataset.TestSubset);
        Assert.Equal(2, spec.Trainable.Epochs);
        Assert.Equal(32, spec.Trainable.BatchSize);
        Assert.Equal(new OptimizerSpec { Name = "sgd", Lr = 0.05, Momentum = 0.9, WeightDecay = 0.0005 }, spec.Trainable.Optimizer);
        Assert.Equal(2, spec.Resources.MaxConcurrentTrials);
        Assert.Equal("out", spec.Output.Dir);
        Assert.Equal(["trainable.optimizer.lr", "trainable.width"], spec.Parameters.Select(p => p.Key));
        Assert.Equal([0.01, 0.1], spec.Parameters[0].Definition.Domain.GridValues.Cast<double>());
    }

    [Fact]
    public void LoadText_Validation_CountOrFraction_SplitSeedIsTheSweepSeed()
    {
        var count = Load(Valid.Replace("    test_subset: 50", "    test_subset: 50\n    validation: 20").Replace("metric: test_accuracy", "metric: val_accuracy"));
        var fraction = Load(Valid.Replace("    test_subset: 50", "    test_subset: 50\n    validation: 0.1"));

        Assert.Equal(20, count.Trainable.Dataset.Validation);
        Assert.Equal(3, count.Trainable.Dataset.SplitSeed);
        Assert.Empty(count.Warnings);
        Assert.Equal(0.1, fraction.Trainable.Dataset.Validation);
    }

    [Fact]
    public void LoadText_TestMetricObjective_WarnsAtTheKey_ValidationMetricWithoutSplit_IsAnError()
    {
        var warned = Load(Valid);
        var warning = Assert.Single(warned.Warnings);
        Assert.Equal("spec.yaml:4:11: objective.metric: selecting, pruning and searching on 'test_accuracy' leaks the test set into every choice of the sweep; use val_accuracy with trainable.dataset.validation set", warning.ToString());

        var ex = Assert.Throws<SpecException>(() => Load(Valid.Replace("metric: test_accuracy", "metric: val_accuracy")));
        Assert.Equal("spec.yaml:4:11: objective.metric: 'val_accuracy' needs a validation split: set trainable.dataset.validation (a count, or a fraction of the training images)", Assert.Single(ex.Errors).ToString());
    }

    [Theory]
    [InlineData("2.5")]
    [InlineData("0")]
    [InlineData("-0.2")]
    public void LoadText_BadValidation_LocatedError(string value)
    {
        var ex = Assert.Throws<SpecException>(() => Load(Valid.Replace("    test_subset: 50", "    test_subset: 50\n    validation: " + value)));
        var error = Assert.Single(ex.Errors);
        Assert.Equal("trainable.dataset.validation", error.KeyPath);
        Assert.Equal(new SourceLocation(14, 17), error.Location);
        Assert.Contains("a count (an integer ≥ 1) or a fraction in (0, 1)", error.Message);
    }

    private string WithVariants(string variants) => Valid.Replace("parameters:\n", variants + "parameters:\n").Replace("  trainable.width: {values: [0.25, 0.5, 1.0]}\n", "");

    [Fact]
    public void Variants_CrossedWithParameters_EachTrialGetsItsBundle()
    {
        var spec = Load(WithVariants("""
            variants:
              float: {trainable.quantizer.method: none}
              msqe_mask: {trainable.quantizer.method: msqe_po2, trainable.quantizer.outlier_mask: true, trainable.quantizer.second_moments: false}
              lp2_ceil: {trainable.quantizer.method: learnable_po2, trainable.quantizer.rounding: ceil}

            """));

        Assert.Equal(["float", "msqe_mask", "lp2_ceil"], spec.Variants.Select(v => v.Name));
        var trials = SpecTrialSource.Preview(spec, 100);
        Assert.Equal(6, trials.Count); // 3 variants × 2 learning rates
        Assert.All(trials, t => Assert.Equal("variant", t.Parameters[0].Key));
        var msqe = trials.Where(t => (string)t.Parameters[0].Value == "msqe_mask").ToList();
        Assert.Equal(2, msqe.Count);
        Assert.All(msqe, t =>
        {
            Assert.Equal("msqe_po2", t.Trainable.Quantizer.Method);
            Assert.True(t.Trainable.Quantizer.OutlierMask);
            Assert.False(t.Trainable.Quantizer.SecondMoments);
        });
        Assert.Equal(new[] { 0.01, 0.1 }, msqe.Select(t => t.Trainable.Optimizer.Lr).Order());
        var ceil = trials.First(t => (string)t.Parameters[0].Value == "lp2_ceil");
        Assert.Equal(("learnable_po2", "ceil", true), (ceil.Trainable.Quantizer.Method, ceil.Trainable.Quantizer.Rounding, ceil.Trainable.Quantizer.SecondMoments));
        Assert.Equal("none", trials.First(t => (string)t.Parameters[0].Value == "float").Trainable.Quantizer.Method);
    }

    [Fact]
    public void Variants_Mistakes_LocatedErrors()
    {
        var ex = Assert.Throws<SpecException>(() => Load(WithVariants("""
            variants:
              a: {trainable.quantizer.methd: none}
              b: {trainable.optimizer.lr: 0.5}
              c: {trainable.quantizer.bits: nine}
              d: 4

            """)));

        Assert.Equal(string.Join("\n",
        [
            "spec.yaml:19:7: variants.a.trainable.quantizer.methd: unknown key 'trainable.quantizer.methd'; did you mean 'trainable.quantizer.method'?",
            "spec.yaml:20:7: variants.b.trainable.optimizer.lr: 'trainable.optimizer.lr' is also a parameter (line 24); set it in the variants or in parameters, not both",
            "spec.yaml:21:33: variants.c.trainable.quantizer.bits: expected an integer, found 'nine'",
            "spec.yaml:22:6: variants.d: expected a mapping of dotted keys to values, e.g. '{trainable.quantizer.method: msqe_po2}', found '4'",
                ]), string.Join("\n", ex.Errors.Select(e => e.ToString())));
    }

    [Fact]
    public void Grid_TwoByThree_SixTrialsWithParametersApplied()
    {
        var trials = SpecTrialSource.Preview(Load(Valid), 100);
        Assert.Equal(6, trials.Count);
        Assert.Equal(Enumerable.Range(1, 6), trials.Select(t => t.Id.Index));
        Assert.Equal([0.01, 0.01, 0.01, 0.1, 0.1, 0.1], trials.Select(t => t.Trainable.Optimizer.Lr));
        Assert.Equal([0.25, 0.5, 1.0, 0.25, 0.5, 1.0], trials.Select(t => t.Trainable.Width));
        Assert.Equal(6, trials.Select(t => t.Seed).Distinct().Count());
        Assert.Equal(trials.Select(t => t.Seed), SpecTrialSource.Preview(Load(Valid), 100).Select(t => t.Seed));
    }

    [Theory]
    [InlineData("qkeras", BnFoldRecipe.QKeras)]
    [InlineData("pytorch", BnFoldRecipe.PyTorch)]
    [InlineData("true", BnFoldRecipe.QKeras)]
    [InlineData("false", BnFoldRecipe.None)]
    [InlineData("none", BnFoldRecipe.None)]
    public void LoadText_BnFold_NamesTheRecipe(string value, string recipe)
    {
        var spec = Load(Valid.Replace("  lr_schedule: cosine", $"  lr_schedule: cosine\n  quantizer: {{method: msqe_po2, bn_fold: {value}}}"));

        Assert.Equal(recipe, spec.Trainable.Quantizer.BnFold);
    }

    [Fact]
    public void LoadText_NoBnFold_NoneAndDepthwisePerChannel()
    {
        var quantizer = Load(Valid).Trainable.Quantizer;

        Assert.Equal(BnFoldRecipe.None, quantizer.BnFold);
        Assert.True(quantizer.DepthwisePerChannel);
        Assert.False(Load(Valid.Replace("  lr_schedule: cosine", "  lr_schedule: cosine\n  quantizer: {depthwise_per_channel: false}"))
            .Trainable.Quantizer.DepthwisePerChannel);
    }

    [Fact]
    public void Grid_BnFoldSwept_OneTrialPerRecipe()
    {
        var text = Valid.Replace(
            "  trainable.width: {values: [0.25, 0.5, 1.0]}",
            "  trainable.quantizer.bn_fold: {values: [qkeras, pytorch, false]}\n  trainable.quantizer.depthwise_per_channel: {values: [true, false]}");

        var trials = SpecTrialSource.Preview(Load(text), 100);

        Assert.Equal(12, trials.Count);
        Assert.Equal(
            [BnFoldRecipe.QKeras, BnFoldRecipe.QKeras, BnFoldRecipe.PyTorch, BnFoldRecipe.PyTorch, BnFoldRecipe.None, BnFoldRecipe.None],
            trials.Take(6).Select(t => t.Trainable.Quantizer.BnFold));
        Assert.Equal([true, false, true, false, true, false], trials.Take(6).Select(t => t.Trainable.Quantizer.DepthwisePerChannel));
    }

    [Theory]
    [InlineData("yes", 18, 42, "trainable.quantizer.bn_fold", "unknown value 'yes'; expected one of qkeras, pytorch, true, false, none")]
    [InlineData("[qkeras]", 18, 42, "trainable.quantizer.bn_fold", "expected one of qkeras, pytorch, true, false, none, found a list of 1 item(s)")]
    public void LoadText_BadBnFold_LocatedError(string value, int line, int column, string key, string message)
    {
        var error = SingleError(Valid.Replace("  lr_schedule: cosine", $"  lr_schedule: cosine\n  quantizer: {{method: msqe_po2, bn_fold: {value}}}"));

        Assert.Equal(new SourceLocation(line, column), error.Location);
        Assert.Equal(key, error.KeyPath);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void LoadText_RelativeDatasetPath_ResolvedAgainstSpecFolder()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "data"));
        var spec = Load(Valid.Replace($"path: {_dir}", "path: data"));
        Assert.Equal(Path.Combine(_dir, "data"), spec.Trainable.Dataset.Path);
    }

    [Theory]
    [InlineData("  epochs: 2", "  epoch: 2", 14, 3, "trainable.epoch", "unknown key 'epoch'; did you mean 'epochs'?")]
    [InlineData("  batch_size: 32", "  batch_size: many", 15, 15, "trainable.batch_size", "expected an integer, found 'many'")]
    [InlineData("  width: 0.25", "  width: \"0.25\"", 8, 10, "trainable.width", "expected a number, found the string \"0.25\"")]
    [InlineData("  width: 0.25", "  width: -1", 8, 10, "trainable.width", "must be in (0, 4], found -1")]
    [InlineData("  mode: max", "  mode: biggest", 5, 9, "objective.mode", "unknown value 'biggest'; expected one of max, min")]
    [InlineData("  lr_schedule: cosine", "  lr_schedule: [cosine]", 17, 16, "trainable.lr_schedule", "expected one of cosine, constant, found a list")]
    [InlineData("  max_concurrent_trials: 2", "  max_concurrent_trials: 0", 22, 26, "resources.max_concurrent_trials", "must be between 1 and 256, found 0")]
    [InlineData("  trainable.width: {values: [0.25, 0.5, 1.0]}", "  trainable.widht: {values: [0.25]}", 20, 3, "parameters.trainable.widht", "unknown parameter key 'trainable.widht'; did you mean 'trainable.width'?")]
    [InlineData("  trainable.width: {values: [0.25, 0.5, 1.0]}", "  trainable.width: {values: [0.25, wide]}", 20, 36, "parameters.trainable.width.values[1]", "expected a number, found 'wide'")]
    [InlineData("  trainable.width: {values: [0.25, 0.5, 1.0]}", "  trainable.width: {values: []}", 20, 29, "parameters.trainable.width.values", "expected at least one value, found an empty list")]
    [InlineData("  trainable.width: {values: [0.25, 0.5, 1.0]}", "  trainable.width: {valuez: [1]}", 20, 21, "parameters.trainable.width.valuez", "unknown key 'valuez'; did you mean 'values'?")]
    [InlineData("  trainable.width: {values: [0.25, 0.5, 1.0]}", "  trainable.input_size: {values: [null, 32]}", 20, 35, "parameters.trainable.input_size.values[0]", "a swept value cannot be null: expected an integer")]
    public void LoadText_OneMistake_OneErrorWithLocationAndKey(string good, string bad, int line, int column, string key, string message)
    {
        Assert.Contains(good, Valid);
        var error = SingleError(Valid.Replace(good, bad));
        Assert.Equal("spec.yaml", error.File);
        Assert.Equal(new SourceLocation(line, column), error.Location);
        Assert.Equal(key, error.KeyPath);
        Assert.StartsWith(message, error.Message);
    }

    [Fact]
    public void LoadText_DuplicateKey_NamesBothPlaces()
    {
        var error = SingleError(Valid.Replace("  epochs: 2\n", "  epochs: 2\n  epochs: 3\n"));
        Assert.Equal(new SourceLocation(15, 3), error.Location);
        Assert.Equal("epochs", error.KeyPath);
        Assert.Equal("duplicate key 'epochs' (first defined at line 14, column 3)", error.Message);
    }

    [Fact]
    public void LoadText_MissingRequiredKey_NamesTheKeyAtItsSection()
    {
        var error = SingleError(Valid.Replace("  epochs: 2\n", ""));
        Assert.Equal("trainable.epochs", error.KeyPath);
        Assert.Equal("missing required key 'epochs'", error.Message);
        Assert.Equal(new SourceLocation(7, 3), error.Location);
    }

    [Fact]
    public void LoadText_MissingSection_ReportedOnce()
    {
        var text = "name: x\ntrainable:\n  model: mobilenet_v1\n  epochs: 1\n  dataset: {name: fashion_mnist, path: " + _dir + "}\n";
        var error = SingleError(text);
        Assert.Equal("objective", error.KeyPath);
        Assert.Equal("missing required key 'objective'", error.Message);
    }

    [Fact]
    public void LoadText_SeveralMistakes_AllReportedInFileOrder()
    {
        var text = Valid.Replace("seed: 3", "sed: 3").Replace("  epochs: 2", "  epochs: two").Replace("  mode: max", "  mode: up");
        var ex = Assert.Throws<SpecException>(() => Load(text));
        Assert.Equal(["sed", "objective.mode", "trainable.epochs"], ex.Errors.Select(e => e.KeyPath));
        Assert.Equal([2, 5, 14], ex.Errors.Select(e => e.Location.Line));
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    [InlineData("---\n")]
    public void LoadText_EmptyFile_SaysSo(string text)
    {
        var error = SingleError(text);
        Assert.StartsWith("the spec is empty", error.Message);
    }

    [Fact]
    public void LoadText_SyntaxError_ReportsYamlLocation()
    {
        var error = SingleError("name: x\nobjective: {metric: test_accuracy\ntrainable: 1\n");
        Assert.StartsWith("YAML syntax error", error.Message);
        Assert.True(error.Location.Line >= 2, error.ToString());
    }

    [Fact]
    public void LoadText_TopLevelList_ExpectedMapping()
    {
        var error = SingleError("- a\n- b\n");
        Assert.StartsWith("expected a mapping", error.Message);
        Assert.Equal(new SourceLocation(1, 1), error.Location);
    }

    [Fact]
    public void LoadText_MissingDatasetFolder_NamesPathAndHowToInstall()
    {
        var missing = Path.Combine(_dir, "nope");
        var error = SingleError(Valid.Replace($"path: {_dir}", $"path: {missing}"));
        Assert.Equal("trainable.dataset.path", error.KeyPath);
        Assert.Equal(new SourceLocation(11, 11), error.Location);
        Assert.Contains(missing, error.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", error.Message);
    }

    [Fact]
    public void SpecError_ToString_FileLineColumnKeyMessage()
    {
        var e = new SpecError("a.yaml", new SourceLocation(3, 7), "trainable.epoch", "unknown key 'epoch'");
        Assert.Equal("a.yaml:3:7: trainable.epoch: unknown key 'epoch'", e.ToString());
    }

    [Fact]
    public void LoadFile_Missing_FileNotFoundError()
    {
        var ex = Assert.Throws<SpecException>(() => SpecLoader.LoadFile(Path.Combine(_dir, "none.yaml")));
        Assert.Equal("file not found", Assert.Single(ex.Errors).Message);
    }

    [Fact]
    public void LoadText_AnchorsAndAliases_Resolved()
    {
        var text = Valid.Replace("  batch_size: 32", "  batch_size: &bs 32").Replace("  max_concurrent_trials: 2", "  max_concurrent_trials: *bs");
        Assert.Equal(32, Load(text).Resources.MaxConcurrentTrials);
    }
}
