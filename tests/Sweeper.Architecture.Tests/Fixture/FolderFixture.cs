// A small folder graph with dependencies that only compiled code shows: a lambda (a nested <>c type), an async
// state machine, a closure, and a generic argument inside a method body. FolderGraphTests scans it.
// Alpha -> Beta (lambda body), Alpha -> Leaf (signature), Beta -> Gamma (async method body), Gamma -> Alpha (List<AlphaMarker> in a body).

namespace Sweeper.Architecture.Tests.Fixture.Leaf
{
    public sealed record LeafValue(int X);
}

namespace Sweeper.Architecture.Tests.Fixture.Alpha
{
    using Sweeper.Architecture.Tests.Fixture.Beta;
    using Sweeper.Architecture.Tests.Fixture.Leaf;

    public sealed class AlphaMarker;

    public static class AlphaUser
    {
        public static int Count(IEnumerable<int> values) => values.Count(x => new BetaThing().Accepts(x));

        public static LeafValue Wrap(int x) => new(x);
    }
}

namespace Sweeper.Architecture.Tests.Fixture.Beta
{
    using Sweeper.Architecture.Tests.Fixture.Gamma;

    public sealed class BetaThing
    {
        public bool Accepts(int x) => x > 0;

        public async Task<int> LaterAsync()
        {
            await Task.Yield();
            return GammaFactory.Make();
        }

        public Func<int> Capture(int offset) => () => offset + GammaFactory.Make();
    }
}

namespace Sweeper.Architecture.Tests.Fixture.Gamma
{
    public static class GammaFactory
    {
        public static int Make() => new List<Alpha.AlphaMarker>().Count;
    }
}
