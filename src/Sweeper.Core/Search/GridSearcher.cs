using Sweeper.Core.Model;

namespace Sweeper.Core.Search;

/// <summary>
/// Grid search: the cartesian product of the finite domains in spec order, the first key varying
/// slowest. A parameter inactive under the values chosen before it adds no branch (no duplicates).
/// </summary>
/// <remarks>
/// <para>Continuous domains (<c>uniform</c>/<c>log_uniform</c> without q, <c>normal</c>) in a grid are an
/// error unless <c>num_samples</c> is given. Then, as in Ray Tune, the grid is run
/// <c>num_samples</c> times over (pass 0 all grid points, then pass 1, …) and each configuration
/// draws its continuous parameters afresh (seeded by its index). Without continuous domains
/// <c>num_samples</c> (default 1) likewise repeats the whole grid.</para>
/// </remarks>
public sealed class GridSearcher : SearcherBase
{
    private readonly List<KeyValuePair<string, object?>[]> _points = [];
    private IEnumerator<KeyValuePair<string, object?>[]>? _enumerator;
    private long? _gridSize;

    /// <param name="numSamples">Number of passes over the grid; required (≥ 1) when a domain is continuous.</param>
    public GridSearcher(SearchSpace space, ObjectiveMode mode, long seed, int? numSamples = null)
        : base(space, mode, seed)
    {
        var errors = Validate(space, numSamples);
        if (errors.Count > 0) throw new SearchSpaceException(errors);
        Passes = numSamples ?? 1;
    }

    /// <summary>How many times the grid is run.</summary>
    public int Passes { get; }

    /// <summary>The number of grid points (configurations per pass).</summary>
    public long GridSize => _gridSize ??= ComputeGridSize();

    public override long? Count => GridSize * Passes;

    /// <summary>Problems with running <paramref name="space"/> as a grid with <paramref name="numSamples"/>.</summary>
    public static IReadOnlyList<SearchSpaceError> Validate(SearchSpace space, int? numSamples)
    {
        ArgumentNullException.ThrowIfNull(space);
        var errors = new List<SearchSpaceError>();
        if (numSamples is < 1) errors.Add(new("num_samples", $"must be at least 1 for a grid search, got {numSamples}"));
        if (numSamples is null)
            foreach (var p in space.Where(p => !p.Domain.IsFinite))
                errors.Add(new(p.Key, $"{p.Domain} is continuous and cannot be enumerated by a grid search; give it a q, use 'values', or set num_samples to sample it that many times per grid point"));
        return errors;
    }

    protected override Suggestion? Create(int index, Random random)
    {
        long size = GridSize;
        if (size == 0) return null;
        var point = PointAt((int)(index % size));
        var assignment = new List<KeyValuePair<string, object>>(point.Length);
        for (int i = 0; i < point.Length; i++)
        {
            var (key, value) = point[i];
            // A null slot is an active continuous parameter: sample it for this configuration.
            var def = Space[Space.IndexOf(key)];
            assignment.Add(new(key, value ?? def.Domain.Sample(random)));
        }
        return new Suggestion(index, assignment);
    }

    private KeyValuePair<string, object?>[] PointAt(int gridIndex)
    {
        _enumerator ??= Enumerate(0, []).GetEnumerator();
        while (_points.Count <= gridIndex)
        {
            if (!_enumerator.MoveNext()) throw new InvalidOperationException("grid enumeration ended early");
            _points.Add(_enumerator.Current);
        }
        return _points[gridIndex];
    }

    /// <summary>Depth-first over the parameters: the first parameter is the outermost loop.</summary>
    private IEnumerable<KeyValuePair<string, object?>[]> Enumerate(int position, List<KeyValuePair<string, object?>> prefix)
    {
        if (position == Space.Count)
        {
            yield return prefix.ToArray();
            yield break;
        }
        var p = Space[position];
        if (!SearchSpace.IsActive(p, NonNull(prefix)))
        {
            foreach (var point in Enumerate(position + 1, prefix)) yield return point;
            yield break;
        }
        if (!p.Domain.IsFinite)
        {
            prefix.Add(new(p.Key, null));
            foreach (var point in Enumerate(position + 1, prefix)) yield return point;
            prefix.RemoveAt(prefix.Count - 1);
            yield break;
        }
        foreach (var value in p.Domain.GridValues)
        {
            prefix.Add(new(p.Key, value));
            foreach (var point in Enumerate(position + 1, prefix)) yield return point;
            prefix.RemoveAt(prefix.Count - 1);
        }
    }

    // Conditions only refer to finite parameters, so the placeholders of continuous ones never matter here.
    private static List<KeyValuePair<string, object>> NonNull(List<KeyValuePair<string, object?>> prefix) =>
        prefix.Where(kv => kv.Value is not null).Select(kv => new KeyValuePair<string, object>(kv.Key, kv.Value!)).ToList();

    private long ComputeGridSize()
    {
        if (Space.IsUnconditional)
        {
            long size = 1;
            foreach (var p in Space.Where(p => p.Domain.IsFinite))
            {
                long n = p.Domain is IntUniformDomain d ? (d.EffectiveHigh - d.Low) / d.Q + 1 : p.Domain.GridValues.Count;
                size = n != 0 && size > long.MaxValue / n
                    ? throw new SearchSpaceException([new(p.Key, "the grid has more than 2^63 points")])
                    : size * n;
            }
            return size;
        }
        long count = 0;
        foreach (var _ in Enumerate(0, [])) count++;
        return count;
    }
}
