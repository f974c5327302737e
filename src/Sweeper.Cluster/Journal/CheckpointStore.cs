using System.Collections.Concurrent;
using System.Globalization;
using Sweeper.Core.Model;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Journal;

/// <summary>Where a checkpoint file sits in the layout: whose it is, and after which epoch it was saved.</summary>
public readonly record struct CheckpointLocation(TrialId Trial, int Epoch);

/// <summary>
/// A sweep's checkpoint folder: <c>&lt;root&gt;/&lt;trial&gt;/epoch-NNNN.ckpt</c> (e.g. <c>checkpoints/t0003/epoch-0004.ckpt</c>).
/// Owns the layout, the atomic writes (a checkpoint is either whole or absent) and the scan for the checkpoint to
/// continue from. One instance serves every restart of one assignment (see <see cref="Save"/> and <see cref="Resume"/>).
/// What a file holds is the trainable's business; the store never reads one.
/// </summary>
public sealed class CheckpointStore
{
    public const string Extension = ".ckpt";
    private const string EpochPrefix = "epoch-";
    private const string TempExtension = ".tmp";

    /// <summary>The newest epoch each (trial, assignment) saved through this store: what a crash restart may continue from.</summary>
    private readonly ConcurrentDictionary<(TrialId Trial, int Assignment), int> _savedOnAssignment = new();

    /// <param name="root">The checkpoint folder (the spec's <c>checkpoint.dir</c>, or the run directory's <c>checkpoints</c>), used as given.</param>
    public CheckpointStore(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        Root = root;
    }

    public string Root { get; }

    /// <summary>The folder holding every checkpoint of <paramref name="trial"/>.</summary>
    public string FolderOf(TrialId trial) => Path.Combine(Root, trial.ToString());

    /// <summary>Where the checkpoint of <paramref name="trial"/> after <paramref name="epoch"/> is written.</summary>
    public string PathOf(TrialId trial, int epoch) => Path.Combine(FolderOf(trial), FileName(epoch));

    /// <summary>The file name of the checkpoint after <paramref name="epoch"/>: <c>epoch-0004.ckpt</c>.</summary>
    public static string FileName(int epoch) => string.Create(CultureInfo.InvariantCulture, $"{EpochPrefix}{epoch:D4}{Extension}");

    /// <summary>
    /// Whose checkpoint <paramref name="path"/> is and after which epoch, read from the layout (<c>.../tNNNN/epoch-NNNN.ckpt</c>);
    /// null for a path outside it (another file name, a folder that is not a trial's, a temp file).
    /// </summary>
    public static CheckpointLocation? Locate(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        if (EpochOf(Path.GetFileName(full)) is not { } epoch) return null;
        var folder = Path.GetFileName(Path.GetDirectoryName(full));
        return TrialOfFolder(folder) is { } trial ? new CheckpointLocation(trial, epoch) : null;
    }

    /// <summary>
    /// Every checkpoint of <paramref name="trial"/> on disk, oldest first. Temp files of writes in progress (or of a
    /// writer that died) and other files are not checkpoints.
    /// </summary>
    public IReadOnlyList<CheckpointRef> List(TrialId trial)
    {
        var folder = FolderOf(trial);
        if (!Directory.Exists(folder)) return [];
        var found = new List<CheckpointRef>();
        foreach (var file in Directory.GetFiles(folder, EpochPrefix + "*" + Extension))
            if (EpochOf(Path.GetFileName(file)) is { } epoch)
                found.Add(new CheckpointRef(epoch, file));
        found.Sort((a, b) => a.Epoch.CompareTo(b.Epoch));
        return found;
    }

    /// <summary>The checkpoint of <paramref name="trial"/> with the highest epoch not after <paramref name="atMost"/>, or null.</summary>
    public CheckpointRef? Newest(TrialId trial, int atMost = int.MaxValue) => List(trial).LastOrDefault(c => c.Epoch <= atMost);

    /// <summary>
    /// Saves the checkpoint of <paramref name="trial"/> after <paramref name="epoch"/> with <paramref name="write"/>
    /// (which writes the file it is given: a temp file, see <see cref="WriteAtomically"/>) and remembers it as saved on
    /// <paramref name="assignment"/>, so that a crash restart of the same assignment may continue from it.
    /// </summary>
    public CheckpointRef Save(TrialId trial, int assignment, int epoch, Action<string> write)
    {
        var path = PathOf(trial, epoch);
        WriteAtomically(path, write);
        _savedOnAssignment[(trial, assignment)] = epoch;
        return new CheckpointRef(epoch, path);
    }

    /// <summary>
    /// Where an assignment continues: <paramref name="assigned"/> (the checkpoint the coordinator handed it), or a newer
    /// one this assignment saved through this store before it crashed. Files of other assignments newer than that —
    /// left by an attempt a rollback made stale — are never picked.
    /// </summary>
    public CheckpointRef? Resume(TrialId trial, int assignment, CheckpointRef? assigned)
    {
        int savedHere = _savedOnAssignment.TryGetValue((trial, assignment), out var e) ? e : 0;
        return Newest(trial, savedHere) is { } own && own.Epoch > (assigned?.Epoch ?? 0) ? own : assigned;
    }

    /// <summary>
    /// Writes <paramref name="path"/> so that it is either whole or absent: <paramref name="write"/> writes a unique temp
    /// file in the same folder, which is flushed to disk and then renamed over <paramref name="path"/>. When
    /// <paramref name="write"/> throws, the temp file is removed and <paramref name="path"/> is left as it was.
    /// </summary>
    public static void WriteAtomically(string path, Action<string> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(folder);
        var tmp = Path.Combine(folder, $"{Path.GetFileName(full)}.{Guid.NewGuid():N}{TempExtension}");
        try
        {
            write(tmp);
            using (var written = new FileStream(tmp, FileMode.Open, FileAccess.Write, FileShare.None))
                written.Flush(flushToDisk: true);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>The epoch of a checkpoint file name (<c>epoch-0004.ckpt</c> -> 4); null for any other name.</summary>
    private static int? EpochOf(string fileName)
    {
        if (!fileName.StartsWith(EpochPrefix, StringComparison.Ordinal) || !fileName.EndsWith(Extension, StringComparison.Ordinal)) return null;
        var digits = fileName.AsSpan(EpochPrefix.Length, fileName.Length - EpochPrefix.Length - Extension.Length);
        if (digits.IsEmpty || !IsDigits(digits)) return null;
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch) ? epoch : null;
    }

    /// <summary>The trial of a trial's checkpoint folder name (<c>t0003</c>); null for any other name.</summary>
    private static TrialId? TrialOfFolder(string? name)
    {
        if (name is not { Length: > 1 } || name[0] != 't' || !IsDigits(name.AsSpan(1))) return null;
        if (!int.TryParse(name.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var index)) return null;
        var trial = new TrialId(index);
        return trial.ToString() == name ? trial : null; // one spelling per trial: t0003, not t3
    }

    private static bool IsDigits(ReadOnlySpan<char> s)
    {
        foreach (var c in s)
            if (c is < '0' or > '9') return false;
        return true;
    }
}
