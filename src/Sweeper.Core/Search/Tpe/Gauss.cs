namespace Sweeper.Core.Search.Tpe;

/// <summary>
/// Standard normal functions for the Parzen estimators, accurate in the tails: erf by its
/// all-positive series, erfc by its continued fraction (in log space, so far tails never underflow),
/// the inverse CDF by Acklam's approximation polished with Halley steps.
/// </summary>
internal static class Gauss
{
    private const double Sqrt2 = 1.4142135623730951;
    private const double LogSqrtPi = 0.57236494292470008; // ln √π
    private const double LogSqrt2Pi = 0.91893853320467274; // ln √(2π)
    private const double Ln2 = 0.69314718055994531;

    /// <summary>erf(x).</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0) return -Erf(-x);
        if (x < 2.0)
        {
            // erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)); every term is positive.
            double term = x, sum = x, x2 = 2 * x * x;
            for (int n = 1; n < 200; n++)
            {
                term *= x2 / (2 * n + 1);
                sum += term;
                if (term < sum * 1e-17) break;
            }
            return 2.0 / Math.Sqrt(Math.PI) * Math.Exp(-x * x) * sum;
        }
        return 1.0 - Math.Exp(LogErfc(x));
    }

    /// <summary>erfc(x) = 1 − erf(x).</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0) return 2.0 - Erfc(-x);
        return x < 2.0 ? 1.0 - Erf(x) : Math.Exp(LogErfc(x));
    }

    /// <summary>ln erfc(x), finite far into the tail.</summary>
    public static double LogErfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 2.0) return Math.Log(Erfc(x));
        if (double.IsPositiveInfinity(x)) return double.NegativeInfinity;
        // erfc(x) = e^(−x²)/√π · 1/K, K = x + (1/2)/(x + 1/(x + (3/2)/(x + …))): modified Lentz.
        const double tiny = 1e-300;
        double f = x, c = x, d = 0.0;
        for (int n = 1; n < 5000; n++)
        {
            double a = 0.5 * n;
            d = x + a * d;
            if (d == 0) d = tiny;
            c = x + a / c;
            if (c == 0) c = tiny;
            d = 1.0 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1.0) < 1e-16) break;
        }
        return -x * x - LogSqrtPi - Math.Log(f);
    }

    /// <summary>ln(1 + x), accurate for small x.</summary>
    public static double Log1p(double x)
    {
        double u = 1.0 + x;
        if (u == 1.0) return x;
        if (double.IsInfinity(u)) return Math.Log(u);
        return Math.Log(u) * x / (u - 1.0);
    }

    /// <summary>Φ(z), the standard normal CDF.</summary>
    public static double Cdf(double z) => 0.5 * Erfc(-z / Sqrt2);

    /// <summary>ln Φ(z).</summary>
    public static double LogCdf(double z)
    {
        if (double.IsNaN(z)) return double.NaN;
        if (z < -1.0) return LogErfc(-z / Sqrt2) - Ln2;
        return Log1p(-0.5 * Erfc(z / Sqrt2));
    }

    /// <summary>ln φ(z), the standard normal log density.</summary>
    public static double LogPdf(double z) => -0.5 * z * z - LogSqrt2Pi;

    /// <summary>ln(Φ(b) − Φ(a)) for a ≤ b, without cancellation in either tail.</summary>
    public static double LogMass(double a, double b)
    {
        if (double.IsNaN(a) || double.IsNaN(b)) return double.NaN;
        if (!(a < b)) return double.NegativeInfinity;
        if (a >= 0) return LogMass(-b, -a);
        if (b <= 0)
        {
            double lb = LogCdf(b), la = LogCdf(a);
            if (double.IsNegativeInfinity(lb)) return double.NegativeInfinity;
            return lb + Log1p(-Math.Exp(la - lb));
        }
        // a < 0 < b: erf(b/√2) and −erf(a/√2) are both positive.
        return Math.Log(0.5 * (Erf(b / Sqrt2) - Erf(a / Sqrt2)));
    }

    /// <summary>Φ⁻¹(p) for p in (0, 1); −∞ and +∞ at 0 and 1.</summary>
    public static double InverseCdf(double p)
    {
        if (double.IsNaN(p) || p < 0 || p > 1) return double.NaN;
        if (p == 0) return double.NegativeInfinity;
        if (p == 1) return double.PositiveInfinity;
        return p > 0.5 ? -InverseCdfLower(1.0 - p) : InverseCdfLower(p);
    }

    /// <summary>Φ⁻¹(p) for 0 &lt; p ≤ 0.5.</summary>
    private static double InverseCdfLower(double p)
    {
        // Acklam's rational approximation (relative error 1.15e-9) …
        double x;
        if (p < 0.02425)
        {
            double t = Math.Sqrt(-2 * Math.Log(p));
            x = (((((-7.784894002430293e-03 * t - 3.223964580411365e-01) * t - 2.400758277161838e+00) * t - 2.549732539343734e+00) * t + 4.374664141464968e+00) * t + 2.938163982698783e+00)
                / ((((7.784695709041462e-03 * t + 3.224671290700398e-01) * t + 2.445134137142996e+00) * t + 3.754408661907416e+00) * t + 1);
        }
        else
        {
            double t = p - 0.5, r = t * t;
            x = (((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02) * r + 1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * t
                / (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02) * r + 6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1);
        }
        // … polished by one Halley step on the accurate CDF (cubic convergence: 1e-9 → machine precision).
        double e = Cdf(x) - p;
        double u = e * Math.Sqrt(2 * Math.PI) * Math.Exp(0.5 * x * x);
        double next = x - u / (1 + 0.5 * x * u);
        return double.IsFinite(next) ? next : x;
    }

    /// <summary>A standard normal draw truncated to [a, b] (a &lt; b, either may be infinite), by inversion.</summary>
    public static double SampleTruncated(double a, double b, Random random)
    {
        if (a >= 0) return -SampleTruncated(-b, -a, random);
        double u = random.NextOpenDouble();
        double pa = Cdf(a);
        double z;
        if (b <= 0)
        {
            z = InverseCdf(pa + u * (Cdf(b) - pa));
        }
        else
        {
            // Split at 0 so each half inverts from its own tail, where the probabilities are exact.
            double upper = Cdf(-b);             // mass above b
            double mass = 1.0 - pa - upper;
            double m = u * mass;
            z = m < 0.5 - pa ? InverseCdf(pa + m) : -InverseCdf(upper + (mass - m));
        }
        return Math.Clamp(z, a, b);
    }
}
