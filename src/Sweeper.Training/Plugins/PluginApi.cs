namespace Sweeper.Training.Plugins;

/// <summary>
/// The plug-in API's version. A plug-in built against this version of <c>Sweeper.Training</c> works with every Sweeper
/// whose <see cref="Version"/> is the same; a change to <see cref="ISweeperModel"/> or <see cref="ModelContext"/> that
/// breaks plug-ins increments it.
/// </summary>
/// <remarks>
/// A plug-in is a type in a .NET assembly named by <c>trainable.model: {assembly, type}</c>, either
/// <list type="bullet">
/// <item>an <see cref="ISweeperModel"/> (public parameterless constructor): Sweeper builds its module, puts the
/// spec's quantizer into every <c>Conv2d</c> and <c>Linear</c> (<see cref="Quantized.ModuleSurgery"/>) and trains it
/// like the built-in MobileNets (data, optimizer, checkpoints, diagnostics, stability monitor, export); or</item>
/// <item>a whole training loop: a <see cref="Core.Trials.ITrainable"/> with a public constructor
/// <c>(TrialConfig config)</c> or <c>(TrialConfig config, TrialContext context)</c>, which may also implement
/// <see cref="Core.Trials.ICheckpointable"/> and <see cref="Core.Trials.IReportsSteps"/>.</item>
/// </list>
/// The plug-in's project references <c>Sweeper.Training</c> (and through it TorchSharp) without copying them to its
/// output (<c>Private="false"</c>): <see cref="PluginLoader"/> gives every plug-in the host's Sweeper and TorchSharp
/// assemblies, and resolves its other dependencies from its own folder.
/// </remarks>
public static class PluginApi
{
    /// <summary>The version of the plug-in API this assembly implements.</summary>
    public const int Version = 1;
}
