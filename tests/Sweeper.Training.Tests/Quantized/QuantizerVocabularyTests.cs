using Sweeper.Core.Model;
using Sweeper.Core.Spec;
using Sweeper.Quantization.Po2;
using Sweeper.Quantization.Training;
using Sweeper.Training.Quantized;

namespace Sweeper.Training.Tests.Quantized;

/// <summary>
/// The spec's quantizer words (Sweeper.Core.Model) and Sweeper.Quantization's own names (a leaf that cannot see Core) must
/// stay one vocabulary: every method a spec can name is a method of Sweeper.Quantization and the other way round, and
/// likewise for learnable_po2's roundings.
/// </summary>
public sealed class QuantizerVocabularyTests
{
    [Fact]
    public void Methods_CoreWordsWithoutNone_EqualQuantizationMethodNames() =>
        Assert.Equal(QuantizerNames.Methods.Where(m => m != QuantizerMethod.None.Word()), Po2Quantizers.MethodNames.All);

    [Fact]
    public void Roundings_CoreWords_EqualQuantizationModeNames() =>
        Assert.Equal(QuantizerNames.Roundings, Po2Quantizers.ModeNames.All);

    [Fact]
    public void ExponentMode_EveryRounding_MapsToTheModeOfTheSameName()
    {
        foreach (var rounding in QuantizerNames.AllRoundings)
            Assert.Equal(rounding.Word(), Po2Quantizers.ModeNames.Of(QuantizationPlan.ExponentMode(rounding)));
    }

    [Fact]
    public void CreateQuantizer_EveryMethod_CreatesTheQuantizationModuleOfTheSameName()
    {
        foreach (var method in QuantizerNames.AllMethods.Where(m => m != QuantizerMethod.None))
        {
            var plan = new QuantizationPlan(new QuantizerSpec { Method = method.Word(), Bits = 4 });
            Assert.Equal(method, plan.Method);
            using var quantizer = plan.CreateQuantizer([2, 3], LayerRole.Body);
            Assert.NotNull(quantizer);
            // Each module is named after its method by default (Po2Quantizers.MethodNames).
            Assert.Equal(method.Word(), quantizer.GetName());
        }
    }

    [Theory]
    [InlineData("ceil", Po2ExponentMode.Ceil)]
    [InlineData("rint", Po2ExponentMode.Rint)]
    [InlineData("msqe_round", Po2ExponentMode.MsqeRound)]
    public void CreateQuantizer_LearnablePo2_UsesTheSpecRounding(string rounding, Po2ExponentMode expected)
    {
        var plan = new QuantizationPlan(new QuantizerSpec { Method = "learnable_po2", Bits = 4, Rounding = rounding });
        using var quantizer = Assert.IsType<LearnablePo2Quantizer>(plan.CreateQuantizer([2, 3], LayerRole.Body));
        Assert.Equal(expected, quantizer.Options.Mode);
    }
}
