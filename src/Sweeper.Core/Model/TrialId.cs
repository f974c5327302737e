namespace Sweeper.Core.Model;

/// <summary>A trial's identity: its index in the sweep, shown as <c>t0007</c>.</summary>
public readonly record struct TrialId(int Index)
{
    public override string ToString() => $"t{Index:D4}";
}
