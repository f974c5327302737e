using TorchSharp;

namespace Sweeper.Quantization;

/// <summary>
/// Scalars that live as long as the process, for TorchSharp calls on hot paths.
/// </summary>
/// <remarks>
/// TorchSharp 0.107's <see cref="Scalar"/> owns a native <c>at::Scalar</c> that its finalizer frees, and its wrappers
/// read a scalar's handle and then call native code without keeping the scalar reachable: a scalar made on the fly
/// (<c>t.add_(1)</c>, <c>t + 0.5</c>, the default <c>alpha: 1</c> of every <c>add</c>/<c>sub</c>) can be collected by a
/// garbage collection that another thread's allocation starts during that native call, and freed by the finalizer
/// thread while libtorch still reads it: "Unknown scalar type", "For integral input tensors, argument alpha must not
/// be a floating point number", a wrong value. Code on the training path passes scalars it holds: these constants,
/// or <c>using var s = value.ToScalar()</c> for a value that changes (the <c>using</c> keeps it alive until the call
/// returned). <c>HeldScalarsTests</c> reproduces the failure with a thread that collects garbage without pause, and
/// trains every quantizer method under it.
/// </remarks>
public static class HeldScalars
{
    /// <summary>The integer 1 (the <c>alpha</c> TorchSharp's <c>add</c>/<c>sub</c> default to; valid for integral tensors too).</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>The integer 0.</summary>
    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>The integer −1.</summary>
    public static readonly Scalar MinusOne = (-1).ToScalar();

    /// <summary>0.5.</summary>
    public static readonly Scalar Half = 0.5.ToScalar();

    /// <summary>2.0.</summary>
    public static readonly Scalar Two = 2.0.ToScalar();

    /// <summary>The integer 2 (the exponent of TorchSharp's <c>square()</c>, which is <c>pow(2)</c>).</summary>
    public static readonly Scalar IntegerTwo = 2.ToScalar();

    /// <summary>true (a flag buffer's <c>fill_</c>).</summary>
    public static readonly Scalar True = true.ToScalar();
}

/// <summary>
/// Tensor arithmetic with a number (or the implicit <c>alpha</c> of <c>add</c>/<c>sub</c>) whose scalar is held until
/// libtorch returned (<see cref="HeldScalars"/>); each is the same libtorch operation as the operator it replaces.
/// </summary>
public static class HeldScalarOps
{
    /// <summary><c>x + v</c>.</summary>
    public static torch.Tensor Plus(this torch.Tensor x, double v)
    {
        using var s = v.ToScalar();
        return x.add(s, HeldScalars.One);
    }

    /// <summary><c>x + v</c> for an integer (an integral scalar, as the operator makes).</summary>
    public static torch.Tensor Plus(this torch.Tensor x, long v)
    {
        using var s = v.ToScalar();
        return x.add(s, HeldScalars.One);
    }

    /// <summary><c>x + y</c>.</summary>
    public static torch.Tensor Plus(this torch.Tensor x, torch.Tensor y) => x.add(y, HeldScalars.One);

    /// <summary><c>x − y</c> (TorchSharp's tensor subtraction has no <c>alpha</c>: the operator is safe too).</summary>
    public static torch.Tensor Minus(this torch.Tensor x, torch.Tensor y) => x.sub(y);

    /// <summary><c>x · v</c>.</summary>
    public static torch.Tensor Times(this torch.Tensor x, double v)
    {
        using var s = v.ToScalar();
        return x.mul(s);
    }

    /// <summary><c>x / v</c>.</summary>
    public static torch.Tensor Over(this torch.Tensor x, double v)
    {
        using var s = v.ToScalar();
        return x.div(s);
    }

    /// <summary><c>x.clamp(min, max)</c>.</summary>
    public static torch.Tensor ClampHeld(this torch.Tensor x, double min, double max)
    {
        using var lo = min.ToScalar();
        using var hi = max.ToScalar();
        return x.clamp(lo, hi);
    }

    /// <summary><c>x.clamp_min(min)</c>.</summary>
    public static torch.Tensor ClampMinHeld(this torch.Tensor x, double min)
    {
        using var lo = min.ToScalar();
        return x.clamp_min(lo);
    }

    /// <summary><c>x.clamp_max(max)</c>.</summary>
    public static torch.Tensor ClampMaxHeld(this torch.Tensor x, double max)
    {
        using var hi = max.ToScalar();
        return x.clamp_max(hi);
    }

    /// <summary><c>x.clamp_max_(max)</c>.</summary>
    public static torch.Tensor ClampMaxInPlaceHeld(this torch.Tensor x, double max)
    {
        using var hi = max.ToScalar();
        return x.clamp_max_(hi);
    }

    /// <summary><c>x.mul_(v)</c>.</summary>
    public static torch.Tensor TimesInPlace(this torch.Tensor x, double v)
    {
        using var s = v.ToScalar();
        return x.mul_(s);
    }

    /// <summary>
    /// <c>x.square()</c>: TorchSharp's <c>square()</c> is <c>pow(2)</c> with the 2 made on the fly (the second-moment
    /// observer's crash under GC pressure, "INTERNAL ASSERT FAILED at c10/core/Scalar.h"); the same operation, held.
    /// </summary>
    public static torch.Tensor Squared(this torch.Tensor x) => x.pow(HeldScalars.IntegerTwo);

    /// <summary><c>x.add_(v)</c> for an integral count.</summary>
    public static torch.Tensor PlusInPlace(this torch.Tensor x, long v)
    {
        using var s = v.ToScalar();
        return x.add_(s, HeldScalars.One);
    }
}
