namespace Sweeper.Core.Stability;

/// <summary>What the spec's <c>stability:</c> section says.</summary>
public sealed record StabilitySection
{
    public StabilityOptions Monitor { get; init; } = new();
    public StabilityPolicy Policy { get; init; } = new();
}
