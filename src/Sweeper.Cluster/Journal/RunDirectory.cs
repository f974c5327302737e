using System.Globalization;
using Sweeper.Core.Reporting;
using Sweeper.Core.Spec;

namespace Sweeper.Cluster.Journal;

/// <summary>
/// A sweep's output folder, <c>&lt;output.dir&gt;/&lt;name&gt;-&lt;yyyyMMdd-HHmmss&gt;</c>, and the names of what it holds:
/// the journal (<c>journal.db</c>), the spec as written (<c>spec.yaml</c>), the results (<c>results.json</c> and the
/// other reports), the traces (<c>traces.jsonl</c>) and, unless the spec says otherwise, the checkpoints
/// (<c>checkpoints/</c>, see <see cref="CheckpointStore"/>).
/// </summary>
public sealed class RunDirectory
{
    /// <summary>The journal: the coordinator's state, see <see cref="SweepJournal"/>.</summary>
    public const string JournalFile = SweepJournal.FileName;

    /// <summary>A copy of the spec as the user wrote it, taken when the run directory is created.</summary>
    public const string SpecFile = "spec.yaml";

    /// <summary>Where trials checkpoint when the spec names no <c>checkpoint.dir</c>.</summary>
    public const string CheckpointFolder = "checkpoints";

    /// <summary>The sweep's spans, when no OTLP endpoint is configured.</summary>
    public const string TracesFile = "traces.jsonl";

    private RunDirectory(string path) => Path = path;

    /// <summary>The folder (a full path).</summary>
    public string Path { get; }

    public string JournalPath => PathOf(JournalFile);

    public string SpecPath => PathOf(SpecFile);

    /// <summary>The results as <c>sweeper run</c> and <c>sweeper report</c> write them (<see cref="ReportWriter.JsonFile"/>).</summary>
    public string ResultsJsonPath => PathOf(ReportWriter.JsonFile);

    public string TracesPath => PathOf(TracesFile);

    /// <summary>Whether the folder holds a journal (a run directory of a sweep that started).</summary>
    public bool HasJournal => File.Exists(JournalPath);

    /// <summary>The path of <paramref name="fileName"/> in the run directory.</summary>
    public string PathOf(string fileName) => System.IO.Path.Combine(Path, fileName);

    /// <summary>
    /// Creates a new run directory under <paramref name="outputOverride"/> (or the spec's <c>output.dir</c>), named after
    /// the sweep and <paramref name="now"/> (local time), with <c>-2</c>, <c>-3</c>... when that name is taken, and copies
    /// the spec's text into it. Call it only once the spec is valid.
    /// </summary>
    public static RunDirectory Create(SweepSpec spec, string? outputOverride, DateTimeOffset now)
    {
        var parent = System.IO.Path.GetFullPath(outputOverride ?? spec.Output.Dir);
        var stem = $"{Sanitize(spec.Name)}-{now.ToLocalTime().ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}";
        var dir = System.IO.Path.Combine(parent, stem);
        for (int i = 2; Directory.Exists(dir); i++) dir = System.IO.Path.Combine(parent, $"{stem}-{i}");
        Directory.CreateDirectory(dir);
        var run = new RunDirectory(dir);
        File.WriteAllText(run.SpecPath, spec.SourceText);
        return run;
    }

    /// <summary>
    /// Creates the run directory at a path of the user's choosing (<c>sweeper run --run-dir</c>): a folder that does not
    /// exist or is empty, or one a run was started in but left before its journal existed (it holds only the spec's copy
    /// and the lock file); copies the spec's text into it. Anything else is refused with an <see cref="IOException"/>:
    /// nothing of someone else's is written over.
    /// </summary>
    public static RunDirectory CreateAt(string path, SweepSpec spec)
    {
        var dir = System.IO.Path.GetFullPath(path);
        if (File.Exists(dir)) throw new IOException($"{dir} is a file, not a folder for a run directory");
        if (Directory.Exists(dir))
        {
            var foreign = Directory.EnumerateFileSystemEntries(dir).Select(System.IO.Path.GetFileName)
                .FirstOrDefault(name => name is not (SpecFile or RunDirectoryLock.FileName));
            if (foreign is not null)
                throw new IOException($"{dir} is neither empty nor a run directory (it holds {foreign} but no {JournalFile}); name an empty or new folder");
        }
        Directory.CreateDirectory(dir);
        var run = new RunDirectory(dir);
        File.WriteAllText(run.SpecPath, spec.SourceText);
        return run;
    }

    /// <summary>An existing (or supposed) run directory; nothing is checked or created.</summary>
    public static RunDirectory At(string path) => new(System.IO.Path.GetFullPath(path));

    /// <summary>The nearest folder above <paramref name="path"/> that holds a journal, or null.</summary>
    public static RunDirectory? FindAbove(string path)
    {
        for (var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)); dir is not null; dir = System.IO.Path.GetDirectoryName(dir))
            if (File.Exists(System.IO.Path.Combine(dir, JournalFile))) return new RunDirectory(dir);
        return null;
    }

    /// <summary>Opens the run's journal; throws <see cref="FileNotFoundException"/> when there is none.</summary>
    public SweepJournal OpenJournal() => SweepJournal.Open(Path);

    /// <summary>
    /// Where the trials of <paramref name="spec"/> checkpoint: the run directory's <c>checkpoints</c> folder, or, when the
    /// spec names a <c>checkpoint.dir</c> (relative to the spec's folder), a subfolder of it named after the run directory,
    /// so that sweeps sharing that folder never write each other's <c>t0001/...</c>.
    /// </summary>
    public string CheckpointDir(SweepSpec spec) =>
        spec.Checkpoint.Dir is { } dir
            ? System.IO.Path.Combine(System.IO.Path.GetFullPath(dir, System.IO.Path.GetDirectoryName(spec.SourcePath) ?? Path), System.IO.Path.GetFileName(Path))
            : System.IO.Path.Combine(Path, CheckpointFolder);

    public override string ToString() => Path;

    private static string Sanitize(string name)
    {
        var chars = name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray();
        var s = new string(chars).Trim('.');
        return s.Length == 0 ? "sweep" : s;
    }
}
