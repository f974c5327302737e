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
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
