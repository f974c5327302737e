using System.Runtime.InteropServices;
using Sweeper.Build;

namespace Sweeper.Training.Tests.Build;

/// <summary>
/// The build step that marks libLibTorchSharp.so's GLIBCXX_3.4.32 requirement weak (build/ElfVersionPatcher.cs,
/// compiled into this project with SWEEPER_NO_MSBUILD).
/// </summary>
public sealed class ElfVersionPatcherTests
{
    private const string Version = "GLIBCXX_3.4.32";
    private const string Library = "libLibTorchSharp.so";

    /// <summary>The library as shipped in the NuGet cache (NUGET_PACKAGES or ~/.nuget/packages).</summary>
    private static string CachedLibrary()
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(root))
            root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", Library);
        Assert.True(File.Exists(path), $"TorchSharp's native library is not in the NuGet cache at {path}");
        return path;
    }

    private static string OutputLibrary() =>
        Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", Library);

    [Fact]
    public void ReadVersionNeeds_OriginalInNuGetCache_RequiresGlibcxx3432NotWeak()
    {
        var needs = ElfVersionPatcher.ReadVersionNeeds(File.ReadAllBytes(CachedLibrary()));

        var need = Assert.Single(needs, n => n.Name == Version);
        Assert.Equal("libstdc++.so.6", need.File);
        Assert.Equal(0, need.Flags & ElfVersionPatcher.VerFlagWeak); // the build never touches the cache
        Assert.Contains(needs, n => n.Name.StartsWith("GLIBC_", StringComparison.Ordinal));
    }

    [Fact]
    public void MarkWeak_OriginalBytes_ChangesExactlyOneByteAndIsIdempotent()
    {
        var original = File.ReadAllBytes(CachedLibrary());
        var copy = (byte[])original.Clone();

        var outcome = ElfVersionPatcher.MarkWeak(copy, Version, out var patched);

        Assert.Equal(ElfPatchOutcome.Patched, outcome);
        Assert.Equal(original, copy); // the input is left alone
        Assert.Equal(original.Length, patched.Length);
        Assert.Equal(1, original.Zip(patched).Count(p => p.First != p.Second));
        var need = Assert.Single(ElfVersionPatcher.ReadVersionNeeds(patched), n => n.Name == Version);
        Assert.NotEqual(0, need.Flags & ElfVersionPatcher.VerFlagWeak);

        Assert.Equal(ElfPatchOutcome.AlreadyWeak, ElfVersionPatcher.MarkWeak(patched, Version, out var again));
        Assert.Same(patched, again);
        Assert.Equal(ElfPatchOutcome.NotRequired, ElfVersionPatcher.MarkWeak(original, "GLIBCXX_99.0", out _));
    }

    [Fact]
    public void OutputFolderCopy_WeakExactlyWhenHostLibStdCxxLacksTheVersion()
    {
        var host = ElfVersionPatcher.FindHostLibStdCxx();
        Assert.NotNull(host);
        bool hostHasVersion = ElfVersionPatcher.ReadVersionDefinitions(File.ReadAllBytes(host!)).Contains(Version);
        Assert.Contains(ElfVersionPatcher.ReadVersionDefinitions(File.ReadAllBytes(host!)), v => v == "GLIBCXX_3.4");

        var output = OutputLibrary();
        Assert.True(File.Exists(output), $"no {Library} in the test output folder: {output}");
        var need = Assert.Single(ElfVersionPatcher.ReadVersionNeeds(File.ReadAllBytes(output)), n => n.Name == Version);

        Assert.Equal(!hostHasVersion, (need.Flags & ElfVersionPatcher.VerFlagWeak) != 0);
    }

    [Fact]
    public void MarkWeakInFile_TempCopy_PatchesAndKeepsTimestamp()
    {
        using var dir = new TempDirectory();
        var path = dir.File(Library);
        File.Copy(CachedLibrary(), path);
        var stamp = new DateTime(2021, 3, 4, 5, 6, 7, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(path, stamp);

        Assert.Equal(ElfPatchOutcome.Patched, ElfVersionPatcher.MarkWeakInFile(path, Version));

        Assert.Equal(stamp, File.GetLastWriteTimeUtc(path));
        var need = Assert.Single(ElfVersionPatcher.ReadVersionNeeds(File.ReadAllBytes(path)), n => n.Name == Version);
        Assert.NotEqual(0, need.Flags & ElfVersionPatcher.VerFlagWeak);
        Assert.False(File.Exists(path + ".sweeper-patch.tmp"));
        Assert.Equal(ElfPatchOutcome.AlreadyWeak, ElfVersionPatcher.MarkWeakInFile(path, Version));
    }

    [Fact]
    public void MarkWeakInFile_HardLinkedCopy_LeavesTheOtherNameUnchanged()
    {
        using var dir = new TempDirectory();
        var original = dir.File("original.so");
        var linked = dir.File("linked.so");
        File.Copy(CachedLibrary(), original);
        Assert.Equal(0, link(original, linked)); // as a NuGet cache file hard-linked into an output folder

        ElfVersionPatcher.MarkWeakInFile(linked, Version);

        Assert.Equal(File.ReadAllBytes(CachedLibrary()), File.ReadAllBytes(original));
        Assert.NotEqual(File.ReadAllBytes(original), File.ReadAllBytes(linked));
    }

    [Fact]
    public void ReadVersionNeeds_NotAnElfFile_ThrowsInvalidData()
    {
        using var dir = new TempDirectory();
        var path = dir.File("readme.txt");
        File.WriteAllText(path, new string('x', 200));

        Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.ReadVersionNeeds(File.ReadAllBytes(path)));
        Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MarkWeakInFile(path, Version));
        Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.ReadVersionDefinitions([0x7f, (byte)'E']));
        Assert.Equal(new string('x', 200), File.ReadAllText(path));
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int link(string oldPath, string newPath);
}
