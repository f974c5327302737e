namespace Sweeper.Core.Search;

/// <summary>Sampling helpers on any <see cref="Random"/>.</summary>
public static class RandomExtensions
{
    /// <summary>A double in the open interval (0, 1).</summary>
    public static double NextOpenDouble(this Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        double u;
        do u = random.NextDouble(); while (u <= 0.0 || u >= 1.0);
        return u;
    }

    /// <summary>A standard normal draw (Box–Muller, one draw per two uniforms, no cached state).</summary>
    public static double NextGaussian(this Random random)
    {
        double u1 = random.NextOpenDouble();
        double u2 = random.NextDouble();
        return BoxMuller(u1, u2);
    }

    /// <summary>The Box–Muller normal of uniforms <paramref name="u1"/> ∈ (0, 1) and <paramref name="u2"/> ∈ [0, 1).</summary>
    internal static double BoxMuller(double u1, double u2) => Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
}
