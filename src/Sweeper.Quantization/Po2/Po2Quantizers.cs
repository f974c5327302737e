using TorchSharp;
using static Sweeper.Quantization.Po2.Po2Math;
using static TorchSharp.torch;

namespace Sweeper.Quantization.Po2;

/// <summary>
/// Pure weight quantizers on floating-point tensors of any rank, per-tensor (<c>channelAxis</c> null)
/// or per-channel over any axis, exactly as specified by the golden README
/// (<c>shared/golden/README.md</c>): <c>legacy_auto_po2</c>, <c>msqe_po2</c>, the forward pass of
/// <c>learnable_po2</c>, plus <c>lsq</c>. Decisions (statistics, least squares, MSQE comparisons)
/// are made in float64; codes and dequantized values come back in the input's dtype (exact for PO2
/// steps). The input is never modified and gradients are not recorded.
/// </summary>
public static class Po2Quantizers
{
    /// <summary>Method names as used in the golden JSON and by <see cref="Service.QuantizeService"/>.</summary>
    public static class MethodNames
    {
        /// <summary><c>quantized_bits(alpha="auto_po2")</c>.</summary>
        public const string LegacyAutoPo2 = "legacy_auto_po2";

        /// <summary><c>quantized_bits_msqe_po2</c>.</summary>
        public const string MsqePo2 = "msqe_po2";

        /// <summary><c>quantized_bits_learnable_po2</c> forward pass.</summary>
        public const string LearnablePo2 = "learnable_po2";

        /// <summary>Learned step size quantization (Esser et al. 2020).</summary>
        public const string Lsq = "lsq";

        /// <summary>All method names, in documentation order.</summary>
        public static IReadOnlyList<string> All { get; } = [LegacyAutoPo2, MsqePo2, LearnablePo2, Lsq];
    }

    /// <summary>Names of the <see cref="Po2ExponentMode"/>s (learnable_po2's <c>mode</c> in the golden JSON and in <see cref="Service.QuantizeService"/> requests).</summary>
    public static class ModeNames
    {
        public const string Ceil = "ceil";
        public const string Rint = "rint";
        public const string MsqeRound = "msqe_round";

        /// <summary>All mode names, in documentation order.</summary>
        public static IReadOnlyList<string> All { get; } = [Ceil, Rint, MsqeRound];

        public static string Of(Po2ExponentMode mode) => mode switch
        {
            Po2ExponentMode.Ceil => Ceil,
            Po2ExponentMode.Rint => Rint,
            Po2ExponentMode.MsqeRound => MsqeRound,
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown exponent mode."),
        };

        public static bool TryParse(string? name, out Po2ExponentMode mode)
        {
            foreach (var m in (ReadOnlySpan<Po2ExponentMode>)[Po2ExponentMode.Ceil, Po2ExponentMode.Rint, Po2ExponentMode.MsqeRound])
                if (Of(m) == name)
                {
                    mode = m;
                    return true;
                }
            mode = Po2ExponentMode.MsqeRound;
            return false;
        }
    }

    /// <summary>
    /// <c>legacy_auto_po2</c>: max-based start, <see cref="LegacyAutoPo2Options.Iterations"/> least-squares
    /// refits on RNA codes (the last one wins), RNA codes at the final exponent.
    /// </summary>
    public static LegacyAutoPo2Result LegacyAutoPo2(Tensor x, int bits, int? channelAxis, LegacyAutoPo2Options? options = null)
    {
        options ??= new LegacyAutoPo2Options();
        CheckInput(x, bits, channelAxis);
        if (options.Iterations < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.Iterations, "Iterations must be >= 0.");

        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var qp = Qp(bits);
        var m = ToMatrix(x.detach(), channelAxis).to_type(ScalarType.Float64);
        var core = LegacyCore(m, qp, options.Iterations);
        var scale = Pow2(core.Final).unsqueeze(1);
        var codes = RnaCodes(m, scale, qp);
        var dq = codes * scale;
        var result = new LegacyAutoPo2Result
        {
            Exponents = core.Final.to_type(ScalarType.Int64),
            Codes = FromMatrix(codes, x.shape, channelAxis).to_type(x.dtype),
            Dequantized = FromMatrix(dq, x.shape, channelAxis).to_type(x.dtype),
            Msqe = RowSquaredError(m, dq, null),
            InitExponents = core.Init.to_type(ScalarType.Int64),
            IterateExponents = core.Iterates.to_type(ScalarType.Int64),
            QkerasScaleAttribute = Pow2(core.Final.Plus(bits - 1)),
        };
        result.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// <c>msqe_po2</c>: weighted least-squares refits with strict keep-best, then a line search over
    /// neighbouring exponents with strict keep-best, then the final snap.
    /// </summary>
    public static MsqePo2Result MsqePo2(Tensor x, int bits, int? channelAxis, MsqePo2Options? options = null)
    {
        options ??= new MsqePo2Options();
        CheckInput(x, bits, channelAxis);
        CheckMsqeOptions(options.LlsIters, options.LineSearchRange, options.OutlierSigma);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var qp = Qp(bits);
        var channels = Channels(x.shape, channelAxis);
        var m = ToMatrix(x.detach(), channelAxis).to_type(ScalarType.Float64);
        var init = options.InitExponent is null ? null : PerChannel(options.InitExponent, channels, nameof(options.InitExponent));
        var weights = options.Weights is null ? null : WeightsMatrix(options.Weights, x, channelAxis);
        var core = MsqeCore(m, qp, init, options.LlsIters, options.LineSearch, options.LineSearchRange, options.OutlierSigma, weights);
        var scale = Pow2(core.Final).unsqueeze(1);
        var codes = RneCodes(m, scale, qp);
        var dq = codes * scale;
        var result = new MsqePo2Result
        {
            Exponents = core.Final.to_type(ScalarType.Int64),
            Codes = FromMatrix(codes, x.shape, channelAxis).to_type(x.dtype),
            Dequantized = FromMatrix(dq, x.shape, channelAxis).to_type(x.dtype),
            Msqe = RowSquaredError(m, dq, null),
            WeightedMsqe = RowSquaredError(m, dq, core.Weights),
            InitExponents = core.Init.to_type(ScalarType.Int64),
            LlsExponents = core.Lls.to_type(ScalarType.Int64),
            LineSearchExponents = core.LineSearch.to_type(ScalarType.Int64),
            OutlierMask = core.Mask is null ? null : FromMatrix(core.Mask, x.shape, channelAxis),
        };
        result.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// <c>learnable_po2</c> forward pass: the continuous log2 scale l (given or data-driven) becomes an
    /// integer exponent by ceil, rint or "round to lower MSQE"; RNE codes at that exponent.
    /// </summary>
    public static LearnablePo2Result LearnablePo2(Tensor x, int bits, int? channelAxis, LearnablePo2Options? options = null)
    {
        options ??= new LearnablePo2Options();
        CheckInput(x, bits, channelAxis);
        if (!(options.MinInitScale > 0) || double.IsInfinity(options.MinInitScale))
            throw new ArgumentOutOfRangeException(nameof(options), options.MinInitScale, "MinInitScale must be positive and finite.");

        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var qp = Qp(bits);
        var channels = Channels(x.shape, channelAxis);
        var m = ToMatrix(x.detach(), channelAxis).to_type(ScalarType.Float64);
        var l = options.Log2Scale is null
            ? LearnableInit(m, qp, options.MinInitScale)
            : PerChannel(options.Log2Scale, channels, nameof(options.Log2Scale));
        var weights = options.Weights is null ? null : WeightsMatrix(options.Weights, x, channelAxis);
        var core = LearnableCore(m, qp, l, options.Mode, options.OutlierMask, weights);
        var scale = Pow2(core.Exponent).unsqueeze(1);
        var codes = RneCodes(m, scale, qp);
        var dq = codes * scale;
        var msqeRound = options.Mode == Po2ExponentMode.MsqeRound;
        var result = new LearnablePo2Result
        {
            Exponents = core.Exponent.to_type(ScalarType.Int64),
            Codes = FromMatrix(codes, x.shape, channelAxis).to_type(x.dtype),
            Dequantized = FromMatrix(dq, x.shape, channelAxis).to_type(x.dtype),
            Msqe = RowSquaredError(m, dq, null),
            WeightedMsqe = msqeRound ? RowSquaredError(m, dq, core.Weights) : null,
            Log2Scale = l,
            FloorMsqe = core.FloorMsqe,
            CeilMsqe = core.CeilMsqe,
            OutlierMask = core.Mask is null ? null : FromMatrix(core.Mask, x.shape, channelAxis),
        };
        result.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// <c>lsq</c>: codes clamp(R(x / s), -qp, qp) with a (not necessarily power-of-two) step s per channel,
    /// given or initialised as 2·mean|x| / sqrt(qp). Computed in the input's dtype, like the training module.
    /// </summary>
    public static LsqResult Lsq(Tensor x, int bits, int? channelAxis, LsqOptions? options = null)
    {
        options ??= new LsqOptions();
        CheckInput(x, bits, channelAxis);
        if (!(options.MinStep > 0))
            throw new ArgumentOutOfRangeException(nameof(options), options.MinStep, "MinStep must be positive.");

        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var qp = Qp(bits);
        var channels = Channels(x.shape, channelAxis);
        var m = ToMatrix(x.detach(), channelAxis);
        var step = (options.Step is null
                ? LsqInit(m, qp)
                : PerChannel(options.Step, channels, nameof(options.Step)))
            .ClampMinHeld(options.MinStep).to_type(x.dtype);
        var codes = RneCodes(m, step.unsqueeze(1), qp);
        var dq = codes * step.unsqueeze(1);
        var result = new LsqResult
        {
            Codes = FromMatrix(codes, x.shape, channelAxis),
            Dequantized = FromMatrix(dq, x.shape, channelAxis),
            Msqe = RowSquaredError(m.to_type(ScalarType.Float64), dq.to_type(ScalarType.Float64), null),
            Step = step,
            GradientScale = LsqGradientScale(m.size(1), qp),
        };
        result.MoveToOuterDisposeScope();
        return result;
    }

    // ----------------------------------------------------------------------------------------------
    // Cores on the float64 channel matrix [C, N]; exponents are integer-valued float64 [C].

    internal readonly record struct LegacyCoreResult(Tensor Init, Tensor Iterates, Tensor Final);

    internal static LegacyCoreResult LegacyCore(Tensor x, int qp, int iterations)
    {
        // Rows are independent: process them in cache-sized chunks (bitwise the same per-row results).
        var rows = x.size(0);
        if (rows <= RowsPerChunk(rows, x.size(1))) return LegacyRows(x, qp, iterations);

        var parts = RowChunks(rows, x.size(1)).Select(c => LegacyRows(x.narrow(0, c.Start, c.Size), qp, iterations)).ToList();
        return new LegacyCoreResult(
            torch.cat(parts.Select(p => p.Init).ToList(), 0),
            torch.cat(parts.Select(p => p.Iterates).ToList(), 1),
            torch.cat(parts.Select(p => p.Final).ToList(), 0));
    }

    private static LegacyCoreResult LegacyRows(Tensor x, int qp, int iterations)
    {
        var e = MaxStart(x, qp);
        // The exponents (MaxStart's, then the refits') are integer-valued: the kernel's 2^−e is libtorch's.
        var fused = iterations > 0 && FusedKernels.Applies(x, ScalarType.Float64) && e.is_contiguous() && FusedKernels.IntegerValued(FusedKernels.Doubles(e));
        int rows = (int)x.size(0), n = (int)x.size(1);
        return LegacyRefits(e, qp, iterations, rows, n, x.device,
            fused ? (exponents, xz, zz) => FusedKernels.RnaProducts(rows, n, FusedKernels.Doubles(x), FusedKernels.Doubles(exponents), qp, FusedKernels.Doubles(xz), FusedKernels.Doubles(zz)) : null,
            x);
    }

    /// <summary>
    /// <see cref="LegacyCore"/>'s final exponents for a contiguous CPU float32 weight whose memory is its channel matrix
    /// [<paramref name="rows"/>, <paramref name="n"/>] (per tensor, or channels on axis 0): max |x| and the refits' products
    /// read the weight itself, widened element by element as the reference's float64 copy holds it, so the exponents are
    /// bitwise that copy's, without the copy and its absolute values.
    /// </summary>
    internal static Tensor LegacyFinalFromWeight(Tensor weight, int rows, int n, int qp, int iterations)
    {
        var e = MaxStartOfWeight(weight, rows, n, qp);
        return LegacyRefits(e, qp, iterations, rows, n, weight.device,
            (exponents, xz, zz) => FusedKernels.RnaProducts(rows, n, FusedKernels.Floats(weight), FusedKernels.Doubles(exponents), qp, FusedKernels.Doubles(xz), FusedKernels.Doubles(zz)),
            null).Final;
    }

    /// <summary>
    /// The least-squares refits from <paramref name="init"/>: with <paramref name="products"/> (x·z and z·z of the RNA codes
    /// at the given exponents, written into two [C, N] float64 buffers) they stop at a fixed point, where every later refit
    /// would repeat the last; without, the reference op chain on <paramref name="x"/>.
    /// </summary>
    private static LegacyCoreResult LegacyRefits(Tensor init, int qp, int iterations, int rows, int n, Device device, Action<Tensor, Tensor, Tensor>? products, Tensor? x)
    {
        var e = init;
        var iterates = new List<Tensor>(iterations);
        var xz = products is null ? null : torch.empty([rows, n], ScalarType.Float64);
        var zz = products is null ? null : torch.empty([rows, n], ScalarType.Float64);
        for (var i = 0; i < iterations; i++)
        {
            Tensor a, b;
            if (products is not null)
            {
                // x·z and z·z of the RNA codes z in one pass (FusedKernels), the means in libtorch as below.
                products(e, xz!, zz!);
                a = xz!.mean([1]);
                b = zz!.mean([1]);
            }
            else
            {
                var z = RnaCodesAt(x!, e, qp);
                a = (x! * z).mean([1]);
                b = z.mul_(z).mean([1]);
            }
            var next = LeastSquaresExponent(a, b);
            iterates.Add(next);
            if (products is not null && FusedKernels.AllEqual(FusedKernels.Doubles(next), FusedKernels.Doubles(e)))
            {
                // A fixed point (the usual case during training, where the weights move little between steps): every
                // later refit starts from the same exponents, so it computes the same codes and returns them again.
                for (var rest = i + 1; rest < iterations; rest++) iterates.Add(next);
                e = next;
                break;
            }

            e = next;
        }

        var stacked = iterations > 0 ? torch.stack(iterates) : torch.empty([0, rows], ScalarType.Float64, device: device);
        return new LegacyCoreResult(init, stacked, e);
    }

    internal readonly record struct MsqeCoreResult(Tensor Init, Tensor Lls, Tensor LineSearch, Tensor Final, Tensor? Mask, Tensor? Weights);

    /// <summary>
    /// The msqe_po2 search on the channel matrix <paramref name="x"/> [C, N] (float64, or a float32 weight whose memory is
    /// that matrix: its values widened exactly, as a float64 copy holds them). Rows are independent: the reference op chain
    /// searches them in cache-sized chunks (<see cref="Po2Math.RowChunks"/>), with the same per-row results as one pass
    /// over the whole matrix; the fused path (<see cref="MsqeRowsFused"/>) goes row by row. <paramref name="keepMatrices"/>
    /// false leaves <see cref="MsqeCoreResult.Mask"/> and <see cref="MsqeCoreResult.Weights"/> null (the training quantizer
    /// needs only the exponents). The MSQE weights are <paramref name="weights"/> (float64, the matrix's shape), or
    /// <paramref name="weights32"/> (float32 [C, N], e.g. the second moments' roots), which the fused path widens a row at a
    /// time instead of a float64 copy of them (the same values: widening is exact).
    /// </summary>
    internal static MsqeCoreResult MsqeCore(Tensor x, int qp, Tensor? init, int llsIters, bool lineSearch, int lineSearchRange, double? outlierSigma, Tensor? weights, bool keepMatrices = true,
        Tensor? weights32 = null)
    {
        var rows = x.size(0);
        if (weights is not null && weights32 is not null) throw new ArgumentException("Give the MSQE weights in float64 or in float32, not both.", nameof(weights32));
        if ((FusedKernels.Applies(x, ScalarType.Float64) || !keepMatrices && FusedKernels.Applies(x, ScalarType.Float32))
            && (weights is null || FusedKernels.Applies(weights, ScalarType.Float64))
            && (weights32 is null || !keepMatrices && FusedKernels.Applies(weights32, ScalarType.Float32) && weights32.numel() == x.numel())
            && (init is null || FusedKernels.Applies(init, ScalarType.Float64) && FusedKernels.IntegerValued(FusedKernels.Doubles(init)))
            && FusedKernels.RowSumsApply(rows, x.size(1)))
            return MsqeRowsFused(x, qp, init, llsIters, lineSearch, lineSearchRange, outlierSigma, weights, keepMatrices, weights32);

        if (weights32 is not null) weights = weights32.reshape(x.shape).to_type(ScalarType.Float64); // the reference's float64 matrix

        if (x.dtype != ScalarType.Float64) x = x.to_type(ScalarType.Float64); // the reference searches the float64 matrix

        if (rows <= RowsPerChunk(rows, x.size(1)))
            return MsqeRows(x, qp, init, llsIters, lineSearch, lineSearchRange, outlierSigma, weights);

        var parts = RowChunks(rows, x.size(1))
            .Select(c => MsqeRows(x.narrow(0, c.Start, c.Size), qp, init?.narrow(0, c.Start, c.Size), llsIters, lineSearch, lineSearchRange, outlierSigma, weights?.narrow(0, c.Start, c.Size)))
            .ToList();
        Tensor Cat(Func<MsqeCoreResult, Tensor> f) => torch.cat(parts.Select(f).ToList(), 0);
        return new MsqeCoreResult(
            Cat(p => p.Init),
            Cat(p => p.Lls),
            Cat(p => p.LineSearch),
            Cat(p => p.Final),
            keepMatrices && parts[0].Mask is not null ? Cat(p => p.Mask!) : null,
            keepMatrices && parts[0].Weights is not null ? Cat(p => p.Weights!) : null);
    }

    private static MsqeCoreResult MsqeRows(Tensor x, int qp, Tensor? init, int llsIters, bool lineSearch, int lineSearchRange, double? outlierSigma, Tensor? weights)
    {
        Tensor? mask = null;
        var w = weights;
        if (outlierSigma is double sigma)
        {
            var threshold = PopulationStd(x).unsqueeze(1).Times(sigma);
            mask = x.abs().le(threshold);
            w = w is null ? mask.to_type(ScalarType.Float64) : w * mask;
        }

        // bestError holds the elementwise weighted squared errors of the current best exponent: the sums compared
        // are always taken in one reduction call over [best, candidate(s)], exactly as if best were re-evaluated.
        var e0 = init ?? MaxStart(x, qp);
        var best = e0;
        var q = RneCodesAt(x, e0, qp);
        var qExponent = e0;
        var bestError = SquaredErrorAt(x, q, e0, w);
        for (var i = 0; i < llsIters; i++)
        {
            var wq = w is null ? q : w * q;
            var eNew = LeastSquaresExponent((wq * x).mean([1]), (wq * q).mean([1]));
            if (eNew.eq(qExponent).all().item<bool>())
            {
                // Fixed point (the usual case during training): the candidate is the exponent q was made with, so q and
                // its error would be the same again, it cannot beat best (it was already compared, or is best), and
                // every later refit repeats this one exactly. Stopping here changes no result.
                break;
            }

            q = RneCodesAt(x, eNew, qp); // the latest candidate, even if rejected
            qExponent = eNew;
            var newError = SquaredErrorAt(x, q, eNew, w);
            var sums = torch.stack([bestError, newError]).sum([2]);
            var better = sums[1].lt(sums[0]);
            best = torch.where(better, eNew, best);
            bestError = torch.where(better.unsqueeze(1), newError, bestError);
        }

        var lls = best;
        var offsets = LineSearchOffsets(lineSearchRange);
        if (lineSearch && offsets.Length > 0)
        {
            var center = SnapExponent(best);
            var candidates = center.unsqueeze(0).Plus(torch.tensor(offsets, ScalarType.Float64, device: x.device).unsqueeze(1)); // [K, C]
            var xs = x.unsqueeze(0);
            var errors = xs.mul(Pow2(candidates.neg()).unsqueeze(-1)).round_().ClampHeld(-qp, qp)
                .mul_(Pow2(candidates).unsqueeze(-1)).sub_(xs);
            errors.mul_(errors);
            if (w is not null) errors.mul_(w.unsqueeze(0));

            var sums = torch.cat([bestError.unsqueeze(0), errors]).sum([2]); // [1 + K, C], one call
            var bestSum = sums[0];
            for (var k = 0; k < offsets.Length; k++)
            {
                var better = sums[k + 1].lt(bestSum);
                best = torch.where(better, candidates[k], best);
                bestSum = torch.where(better, sums[k + 1], bestSum);
            }
        }

        return new MsqeCoreResult(e0, lls, best, SnapExponent(best), mask, w);
    }

    /// <summary>
    /// <see cref="MsqeRows"/> row by row, with nothing the size of the matrix in memory: each comparison's elementwise
    /// work is done in one pass over the row (<see cref="FusedKernels"/>) into a scratch row that is summed where it lies,
    /// in libtorch's order (<see cref="LibtorchSum"/>), and the keep-best decisions are taken on those sums. The reference's
    /// sums are per row (a reduction over the last axis), and each row's are the same numbers here: the same operations
    /// on the same values, added in the same order, so the same exponents. The sum of the current best's errors is kept
    /// from when it was computed (the reference sums the same elements again). The least-squares refits stay a loop over
    /// all rows (their exponents are decided for the whole vector: <see cref="LeastSquaresExponent"/>).
    /// </summary>
    private static MsqeCoreResult MsqeRowsFused(Tensor x, int qp, Tensor? init, int llsIters, bool lineSearch, int lineSearchRange, double? outlierSigma, Tensor? weights, bool keepMatrices,
        Tensor? weights32 = null)
    {
        int rows = (int)x.size(0), n = (int)x.size(1);
        var offsets = LineSearchOffsets(lineSearchRange);
        var k = lineSearch ? offsets.Length : 0;
        var rows64 = new RowScratch(n, k, rows);
        Tensor? threshold = null;
        try
        {
            Tensor? mask = null, w = weights;
            if (outlierSigma is double sigma)
            {
                // PopulationStd(x) · σ: each row's mean and mean squared deviation summed in libtorch's order, the sqrt by libtorch.
                using var variance = torch.empty(rows, ScalarType.Float64);
                var v = FusedKernels.Doubles(variance);
                var matrix = new MatrixRows(x);
                Span<double> mean = stackalloc double[1];
                for (int c = 0; c < rows; c++)
                {
                    var values = matrix.Row(c, rows64.X);
                    mean[0] = LibtorchSum.Mean(values);
                    FusedKernels.CenteredSquares(1, n, values, mean, rows64.Errors);
                    v[c] = LibtorchSum.Mean(rows64.Errors);
                }
                using var std = variance.sqrt();
                threshold = std.Times(sigma);
                if (keepMatrices)
                {
                    mask = torch.empty(x.shape, ScalarType.Bool);
                    w = torch.empty_like(x);
                    FusedKernels.OutlierWeights(rows, n, FusedKernels.Doubles(x), FusedKernels.Doubles(threshold), weights is null ? default : FusedKernels.Doubles(weights),
                        FusedKernels.Bools(mask), FusedKernels.Doubles(w));
                }
            }

            // The MSQE weights: kept whole (given, or the mask's when the matrices are kept), formed row by row, or none.
            // The given MSQE weights' rows: float64 ones, or float32 ones widened a row at a time (no float64 copy a step), or none.
            var given = (weights ?? weights32) is { } givenMatrix ? new MatrixRows(givenMatrix) : default;
            var rowWeights = new RowWeights(w is not null && (threshold is null || keepMatrices) ? w : null, threshold is not null && !keepMatrices ? threshold : null, given);
            var e0 = init ?? (x.dtype == ScalarType.Float64 ? MaxStart(x, qp) : MaxStartOfWeight(x, rows, n, qp));
            var best = e0.contiguous().clone();
            using var meanWqx = torch.empty(rows, ScalarType.Float64);
            using var meanWqq = torch.empty(rows, ScalarType.Float64);
            // Sums in any order where they decide the refits for certain (the start at the fixed point, the usual training
            // step): BestSums then hold them, not libtorch's, and the line search settles what they leave open.
            bool screened = init is not null && !keepMatrices
                && ScreenedFixedPoint(x, threshold is null ? default : FusedKernels.Doubles(threshold), given, rows64.Given,
                    FusedKernels.Doubles(best), qp, llsIters, rows64.BestSums);
            if (screened) ScreenedSearches++;
            else MsqeEvaluate(x, rowWeights, best, qp, rows64, rows64.BestSums, meanWqx, meanWqq);
            var qExponent = best.clone();
            for (var i = 0; i < (screened ? 0 : llsIters); i++)
            {
                var eNew = LeastSquaresExponent(meanWqx, meanWqq);
                if (FusedKernels.AllEqual(FusedKernels.Doubles(eNew), FusedKernels.Doubles(qExponent))) break; // the fixed point: see MsqeRows

                MsqeEvaluate(x, rowWeights, eNew, qp, rows64, rows64.NewSums, meanWqx, meanWqq);
                qExponent = eNew;
                var candidate = FusedKernels.Doubles(eNew);
                var bestValues = FusedKernels.Doubles(best);
                var bestSums = rows64.BestSums;
                var newSums = rows64.NewSums;
                for (int c = 0; c < rows; c++)
                {
                    if (!(newSums[c] < bestSums[c])) continue;
                    bestValues[c] = candidate[c];
                    bestSums[c] = newSums[c];
                }
            }

            var lls = best.clone();
            if (k > 0)
            {
                using var center = SnapExponent(best);
                var centers = FusedKernels.Doubles(center);
                var bestValues = FusedKernels.Doubles(best);
                var bestSums = rows64.BestSums;
                var matrix = new MatrixRows(x);
                Span<double> candidates = k <= 64 ? stackalloc double[k] : new double[k];
                Span<bool> alive = k <= 64 ? stackalloc bool[k] : new bool[k];
                var candidateErrors = rows64.Candidates;
                double spread = 2 * ScreenedSpread(n);
                for (int c = 0; c < rows; c++)
                {
                    for (int j = 0; j < k; j++) candidates[j] = centers[c] + offsets[j];
                    var values = matrix.Row(c, rows64.X);
                    var rowWeightValues = rowWeights.Row(values, c, n, rows64);
                    var bestSum = bestSums[c];
                    bool exact = !screened; // a screened sum: libtorch's lies within bestSum·(1 ± spread)
                    // A candidate whose errors cannot sum below the best's stops early: it could not have been taken.
                    FusedKernels.RowCandidateErrorsBounded(k, values, rowWeightValues, candidates, qp, candidateErrors, exact ? bestSum : bestSum * (1 + spread), alive);
                    for (int j = 0; j < k; j++)
                    {
                        if (!alive[j]) continue;
                        var s = LibtorchSum.Row(candidateErrors.Slice(j * n, n));
                        if (!exact && !(s < bestSum * (1 - spread)) && s < bestSum * (1 + spread))
                        {
                            // Too close to call: the best's error summed as libtorch sums it.
                            FusedKernels.RneProducts(1, n, values, rowWeightValues, bestValues.Slice(c, 1), qp, rows64.Errors, rows64.Wqx, rows64.Wqq);
                            bestSum = LibtorchSum.Row(rows64.Errors);
                            exact = true;
                            SettledRows++;
                        }
                        if (!(s < bestSum)) continue;
                        bestValues[c] = candidates[j];
                        bestSum = s;
                        exact = true;
                    }
                }
            }

            return new MsqeCoreResult(e0, lls, best, SnapExponent(best), keepMatrices ? mask : null, keepMatrices ? w : null);
        }
        finally
        {
            threshold?.Dispose();
            rows64.Dispose();
        }
    }

    /// <summary>Searches on this thread that started from screened sums (<see cref="ScreenedFixedPoint"/>): for tests.</summary>
    [ThreadStatic]
    internal static long ScreenedSearches;

    /// <summary>Rows of screened searches on this thread whose best error was summed again as libtorch sums it, a candidate being too close to call: for tests.</summary>
    [ThreadStatic]
    internal static long SettledRows;

    /// <summary>
    /// A bound ρ on how far a sum of <paramref name="n"/> terms ≥ 0 taken in one order lies from the same terms' sum taken in
    /// another, relative to the first: each is within γ = (n−1)·u/(1 − (n−1)·u) of the exact sum S (u = 2^−53), so they
    /// differ by at most 2γ·S ≤ 2γ/(1 − γ) times either, below (n + 2)·2^−52 for every n this is used with (n·u ≪ 1).
    /// </summary>
    private static double ScreenedSpread(int n) => (n + 2) * 2.220446049250313E-16;

    /// <summary>
    /// Whether the msqe search's first least-squares refit is certainly at its fixed point, judged from sums taken in any
    /// order (<see cref="FusedKernels.RneProductSums{T}"/>) instead of libtorch's: for every row, the sums are finite and
    /// R(log2(a / (b + EPS) + EPS)) of their means equals the start exponent with log2 more than 10^−6 plus the sums'
    /// possible difference from a half-integer (where <see cref="LeastSquaresExponent"/> decides the same integer
    /// from libtorch's sums, whichever log2 it takes). With no refits, only the sums' finiteness is asked. Writes each
    /// row's error sum into <paramref name="sums"/> (valid only when true). The mask's weights come from
    /// <paramref name="threshold"/> (empty: no mask), times the second-moment weights <paramref name="weights"/> (if any;
    /// float32 ones widened in <paramref name="scratch"/>), as <see cref="RowWeights"/> forms them.
    /// </summary>
    private static bool ScreenedFixedPoint(Tensor x, ReadOnlySpan<double> threshold, MatrixRows weights, Span<double> scratch, ReadOnlySpan<double> e0, int qp, int llsIters, Span<double> sums)
    {
        int rows = (int)x.size(0), n = (int)x.size(1);
        var floats = x.dtype == ScalarType.Float32 ? FusedKernels.Floats(x) : default;
        var doubles = x.dtype == ScalarType.Float64 ? FusedKernels.Doubles(x) : default;
        // Relative difference of r from libtorch's: the two sums (ρ each), the division by n, b + EPS, a / (…), + EPS
        // (one rounding each on either side); log2 moves by that over ln 2 (doubled for safety).
        double margin = 1e-6 + 2 * (2 * ScreenedSpread(n) + 12 * 1.1102230246251565E-16) / Math.Log(2);
        for (int c = 0; c < rows; c++)
        {
            double t = threshold.IsEmpty ? double.PositiveInfinity : threshold[c];
            double se, sx, sq;
            var w = weights.Row(c, scratch);
            if (floats.IsEmpty) FusedKernels.RneProductSums(doubles.Slice(c * n, n), w, t, e0[c], qp, out se, out sx, out sq);
            else FusedKernels.RneProductSums(floats.Slice(c * n, n), w, t, e0[c], qp, out se, out sx, out sq);
            if (!double.IsFinite(se) || !double.IsFinite(sx) || !double.IsFinite(sq)) return false;
            sums[c] = se;
            if (llsIters == 0) continue;
            // LeastSquaresExponent's refit from these sums: certain, and the start again (NaN and +∞ never equal it).
            if (!FusedKernels.TryRoundLog2(sx / n / (sq / n + Eps) + Eps, out var refit, margin) || refit != e0[c]) return false;
        }
        return true;
    }

    /// <summary>
    /// Every row's weighted squared errors and least-squares products at exponents <paramref name="e"/> [C] (RNE codes), one
    /// row at a time in scratch: the error sums into <paramref name="sums"/>, the products' means into the two [C] tensors.
    /// </summary>
    private static void MsqeEvaluate(Tensor x, RowWeights weights, Tensor e, int qp, RowScratch scratch, Span<double> sums, Tensor meanWqx, Tensor meanWqq)
    {
        int rows = (int)x.size(0), n = (int)x.size(1);
        var matrix = new MatrixRows(x);
        var exponents = FusedKernels.Doubles(e);
        var a = FusedKernels.Doubles(meanWqx);
        var b = FusedKernels.Doubles(meanWqq);
        var errors = scratch.Errors;
        var wqx = scratch.Wqx;
        var wqq = scratch.Wqq;
        for (int c = 0; c < rows; c++)
        {
            var values = matrix.Row(c, scratch.X);
            FusedKernels.RneProducts(1, n, values, weights.Row(values, c, n, scratch), exponents.Slice(c, 1), qp, errors, wqx, wqq);
            sums[c] = LibtorchSum.Row(errors);
            a[c] = LibtorchSum.Mean(wqx);
            b[c] = LibtorchSum.Mean(wqq);
        }
    }

    /// <summary>
    /// Where a fused search finds each row's MSQE weights: a whole [C, N] matrix, or an outlier threshold [C] (with the
    /// given weights, if any) from which a row's are formed in scratch as the reference forms them (<see cref="FusedKernels.OutlierWeights"/>), or none.
    /// </summary>
    private readonly ref struct RowWeights
    {
        private readonly ReadOnlySpan<double> _whole, _threshold;
        private readonly MatrixRows _given;

        public RowWeights(Tensor? whole, Tensor? threshold, MatrixRows given)
        {
            _whole = whole is null ? default : FusedKernels.Doubles(whole);
            _threshold = threshold is null ? default : FusedKernels.Doubles(threshold);
            _given = given;
        }

        /// <summary>Row <paramref name="c"/>'s weights, for that row's values <paramref name="row"/>.</summary>
        public ReadOnlySpan<double> Row(ReadOnlySpan<double> row, int c, int n, RowScratch scratch)
        {
            if (!_whole.IsEmpty) return _whole.Slice(c * n, n);
            var given = _given.Row(c, scratch.Given);
            if (_threshold.IsEmpty) return given; // no mask (a threshold has one value per row): the given weights, or none
            FusedKernels.OutlierWeights(1, n, row, _threshold.Slice(c, 1), given, default, scratch.Weights);
            return scratch.Weights;
        }
    }

    /// <summary>The rows of a channel matrix [C, N], float64 or a float32 weight's (widened exactly into scratch, as a float64 copy holds them); <c>default</c>: no matrix, every row empty.</summary>
    private readonly ref struct MatrixRows
    {
        private readonly ReadOnlySpan<double> _doubles;
        private readonly ReadOnlySpan<float> _floats;
        private readonly int _n;

        public MatrixRows(Tensor x)
        {
            _n = (int)x.size(1);
            if (x.dtype == ScalarType.Float64) _doubles = FusedKernels.Doubles(x);
            else _floats = FusedKernels.Floats(x);
        }

        public ReadOnlySpan<double> Row(int c, Span<double> widened)
        {
            if (_floats.IsEmpty) return _doubles.Slice(c * _n, _n);
            FusedKernels.Widen(_floats.Slice(c * _n, _n), widened);
            return widened.Slice(0, _n);
        }
    }

    /// <summary><see cref="MaxStart"/> of a float32 weight whose memory is its channel matrix [C, N].</summary>
    private static Tensor MaxStartOfWeight(Tensor weight, int rows, int n, int qp)
    {
        using var max = torch.empty(rows, ScalarType.Float64);
        FusedKernels.RowAbsMax(rows, n, FusedKernels.Floats(weight), FusedKernels.Doubles(max));
        return MaxStartFromMax(max, qp);
    }

    /// <summary>Scratch rows of a fused search, rented once per call: errors, products, weights, K candidates' errors, two [C] sums, a widened row.</summary>
    private sealed class RowScratch : IDisposable
    {
        private readonly double[] _values;
        private readonly int _n, _k, _rows;

        public RowScratch(int n, int k, int rows)
        {
            (_n, _k, _rows) = (n, Math.Max(1, k), rows);
            _values = System.Buffers.ArrayPool<double>.Shared.Rent((6 + _k) * n + 2 * rows);
        }

        public Span<double> Errors => _values.AsSpan(0, _n);
        public Span<double> Wqx => _values.AsSpan(_n, _n);
        public Span<double> Wqq => _values.AsSpan(2 * _n, _n);
        public Span<double> Weights => _values.AsSpan(3 * _n, _n);
        public Span<double> Candidates => _values.AsSpan(4 * _n, _k * _n);
        public Span<double> BestSums => _values.AsSpan((4 + _k) * _n, _rows);
        public Span<double> NewSums => _values.AsSpan((4 + _k) * _n + _rows, _rows);
        public Span<double> X => _values.AsSpan((4 + _k) * _n + 2 * _rows, _n);
        public Span<double> Given => _values.AsSpan((5 + _k) * _n + 2 * _rows, _n);

        public void Dispose()
        {
            System.Buffers.ArrayPool<double>.Shared.Return(_values);
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, double[]> Offsets = new();

    /// <summary>Line-search offsets for range r: h = r/2 + 1, k = -h+1 … h-1 without 0 (one shared array per range: do not modify).</summary>
    internal static double[] LineSearchOffsets(int range) => Offsets.GetOrAdd(range, static r =>
    {
        var h = r / 2 + 1;
        return Enumerable.Range(-h + 1, 2 * h - 1).Where(k => k != 0).Select(k => (double)k).ToArray();
    });

    internal readonly record struct LearnableCoreResult(Tensor Exponent, Tensor? FloorMsqe, Tensor? CeilMsqe, Tensor? Mask, Tensor? Weights);

    /// <summary>Data-driven learnable start l = log2(max(3·std/qp, minInitScale)), float64 [C].</summary>
    internal static Tensor LearnableInit(Tensor x, int qp, double minInitScale) =>
        Log2(PopulationStd(x).Times(3.0).Over(qp).ClampMinHeld(minInitScale));

    internal static LearnableCoreResult LearnableCore(Tensor x, int qp, Tensor l, Po2ExponentMode mode, bool outlierMask, Tensor? weights)
    {
        switch (mode)
        {
            case Po2ExponentMode.Ceil:
                return new LearnableCoreResult(l.ceil(), null, null, null, weights);
            case Po2ExponentMode.Rint:
                return new LearnableCoreResult(Rint(l), null, null, null, weights);
            case Po2ExponentMode.MsqeRound:
                Tensor? mask = null;
                var w = weights;
                if (outlierMask)
                {
                    mask = x.abs().le(Pow2(l).Times(qp + 0.5).unsqueeze(1));
                    w = w is null ? mask.to_type(ScalarType.Float64) : w * mask;
                }

                var ef = l.floor();
                var ec = l.ceil();
                var errors = WeightedMsqe(x, w, torch.stack([ef, ec]), qp);
                var e = torch.where(errors[0].lt(errors[1]), ef, ec); // ties go to ceil
                return new LearnableCoreResult(e, errors[0], errors[1], mask, w);
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown exponent mode.");
        }
    }

    /// <summary>LSQ start 2·mean|x| / sqrt(qp) per row, float64 [C].</summary>
    internal static Tensor LsqInit(Tensor x, int qp) =>
        x.to_type(ScalarType.Float64).abs().mean([1]) * (2.0 / Math.Sqrt(qp));

    /// <summary>LSQ gradient scale 1 / sqrt(N · qp).</summary>
    internal static double LsqGradientScale(long numelPerChannel, int qp) => 1.0 / Math.Sqrt((double)numelPerChannel * qp);

    // ----------------------------------------------------------------------------------------------

    private static void CheckInput(Tensor x, int bits, int? channelAxis)
    {
        ArgumentNullException.ThrowIfNull(x);
        CheckBits(bits);
        CheckAxis(x, channelAxis);
        if (!x.is_floating_point())
            throw new ArgumentException($"Expected a floating-point tensor, got {x.dtype}.", nameof(x));
    }

    internal static void CheckMsqeOptions(int llsIters, int lineSearchRange, double? outlierSigma)
    {
        if (llsIters < 0) throw new ArgumentOutOfRangeException(nameof(llsIters), llsIters, "LlsIters must be >= 0.");
        if (lineSearchRange < 0)
            throw new ArgumentOutOfRangeException(nameof(lineSearchRange), lineSearchRange, "LineSearchRange must be >= 0.");
        if (outlierSigma is double s && (s < 0 || !double.IsFinite(s)))
            throw new ArgumentOutOfRangeException(nameof(outlierSigma), s, "OutlierSigma must be a finite number >= 0.");
    }

    /// <summary>A per-channel option ([C] or [1]) as float64 [C].</summary>
    internal static Tensor PerChannel(Tensor value, long channels, string name)
    {
        var flat = value.detach().reshape(-1).to_type(ScalarType.Float64);
        if (flat.shape[0] == channels) return flat;
        if (flat.shape[0] == 1) return flat.expand(channels).contiguous();

        throw new ArgumentException($"{name} must have 1 or {channels} values, got {flat.shape[0]}.", name);
    }

    private static Tensor WeightsMatrix(Tensor weights, Tensor x, int? channelAxis)
    {
        if (!weights.shape.SequenceEqual(x.shape))
            throw new ArgumentException($"Weights must have the input's shape [{string.Join(", ", x.shape)}], got [{string.Join(", ", weights.shape)}].", nameof(weights));

        return ToMatrix(weights.detach(), channelAxis).to_type(ScalarType.Float64);
    }
}
