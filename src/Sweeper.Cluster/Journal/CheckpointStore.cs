using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Sweeper.Core.Model;
using Sweeper.Core.Trials;

namespace Sweeper.Cluster.Journal;

/// <summary>
/// Where a checkpoint file sits in the layout: whose it is, after which epoch it was saved, and the folder of the
/// assignment that wrote it (<c>a0003</c>; null for the layout before assignment folders, <c>tNNNN/epoch-NNNN.ckpt</c>).
/// </summary>
public readonly record struct CheckpointLocation(TrialId Trial, int Epoch, string? Assignment = null);

/// <summary>What <see cref="CheckpointStore.Restore"/> loaded (null: nothing, the trial starts from scratch) and every file that failed before it.</summary>
public sealed record Restored(CheckpointRef? Loaded, IReadOnlyList<string> Failures)
{
    /// <summary>Null when the first checkpoint loaded; else what happened, naming each file that failed and what was used instead.</summary>
    public string? FellBack => Failures.Count == 0 ? null
        : string.Join("; ", Failures) + (Loaded is { } c
            ? string.Create(CultureInfo.InvariantCulture, $"; continued from the checkpoint after epoch {c.Epoch} ('{c.Path}')")
            : "; no earlier checkpoint loads: started from scratch");
}

/// <summary>
/// A sweep's checkpoint folder: <c>&lt;root&gt;/&lt;trial&gt;/&lt;assignment&gt;/epoch-NNNN.ckpt</c> (e.g.
/// <c>checkpoints/t0003/a0002/epoch-0004.ckpt</c>). Each assignment of a trial writes only into a folder it claimed for
/// itself (<see cref="OwnerFile"/> created exclusively, naming the trial, the assignment and the checkpoint it resumed
/// from), so a writer that was given up on (paused, downed, its trial assigned elsewhere) can never replace or delete a
/// file of the assignment that took over. Owns the atomic, durable writes (a checkpoint is either whole or absent, and on
/// disk with its folder entry before anyone is told of it), keeps an assignment's newest <see cref="Keep"/> checkpoints
/// plus its newest healthy one, and lists the checkpoints to fall back to when one cannot be loaded
/// (<see cref="Candidates"/>). One instance serves every restart of one assignment (see <see cref="Save"/> and
/// <see cref="Resume"/>). What a checkpoint holds is the trainable's business; the store reads only its own files.
/// </summary>
public sealed partial class CheckpointStore
{
    public const string Extension = ".ckpt";

    /// <summary>The file that claims an assignment's folder (written once, exclusively, by the assignment that owns it).</summary>
    public const string OwnerFile = "assignment.txt";

    /// <summary>Checkpoints an assignment keeps when the spec does not say (<c>checkpoint.keep</c>).</summary>
    public const int DefaultKeep = 2;

    private const string EpochPrefix = "epoch-";
    private const string TempExtension = AtomicFile.TempExtension;

    /// <summary>The folder each (trial, assignment) claimed through this store and what it saved there.</summary>
    private readonly Dictionary<(TrialId Trial, int Assignment), Owned> _owned = new();

    /// <param name="root">The checkpoint folder (see <see cref="RunDirectory.CheckpointDir"/>), used as given.</param>
    /// <param name="keep">Checkpoints an assignment keeps (its newest ones, plus its newest healthy one); 0: all.</param>
    public CheckpointStore(string root, int keep = DefaultKeep)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        Root = root;
        Keep = keep;
    }

    public string Root { get; }

    /// <summary>Checkpoints each assignment keeps in its folder, besides its newest healthy one (0: every one).</summary>
    public int Keep { get; }

    /// <summary>The folder holding every checkpoint of <paramref name="trial"/> (one subfolder per assignment).</summary>
    public string FolderOf(TrialId trial) => Path.Combine(Root, trial.ToString());

    /// <summary>The folder <paramref name="assignment"/> of <paramref name="trial"/> claimed through this store, or null before its first save.</summary>
    public string? FolderOf(TrialId trial, int assignment)
    {
        lock (_owned) return _owned.TryGetValue((trial, assignment), out var o) ? o.Folder : null;
    }

    /// <summary>The name of an assignment's folder: <c>a0003</c> (<c>a0003-2</c>... when that one is claimed already).</summary>
    public static string AssignmentFolderName(int assignment) => TrialContext.AssignmentName(assignment);

    /// <summary>The file name of the checkpoint after <paramref name="epoch"/>: <c>epoch-0004.ckpt</c>.</summary>
    public static string FileName(int epoch) => string.Create(CultureInfo.InvariantCulture, $"{EpochPrefix}{epoch:D4}{Extension}");

    /// <summary>
    /// Whose checkpoint <paramref name="path"/> is, after which epoch, and which assignment's folder holds it, read from
    /// the layout (<c>.../tNNNN/aNNNN/epoch-NNNN.ckpt</c>, or <c>.../tNNNN/epoch-NNNN.ckpt</c> as older runs wrote it);
    /// null for a path outside it (another file name, a folder that is not a trial's or an assignment's, a temp file).
    /// </summary>
    public static CheckpointLocation? Locate(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        if (EpochOf(Path.GetFileName(full)) is not { } epoch) return null;
        var folder = Path.GetDirectoryName(full);
        var name = Path.GetFileName(folder);
        if (TrialOfFolder(name) is { } legacy) return new CheckpointLocation(legacy, epoch);
        if (name is null || !AssignmentFolder().IsMatch(name)) return null;
        return TrialOfFolder(Path.GetFileName(Path.GetDirectoryName(folder))) is { } trial ? new CheckpointLocation(trial, epoch, name) : null;
    }

    /// <summary>
    /// Throws unless <paramref name="path"/> is a checkpoint of <paramref name="trial"/>: in its folder of the layout, and
    /// (when its folder is an assignment's) claimed for it.
    /// </summary>
    /// <exception cref="InvalidDataException">The path is another trial's, or outside the layout; the message names it.</exception>
    public static void ExpectOwnedBy(TrialId trial, string path)
    {
        if (Locate(path) is not { } at)
            throw new InvalidDataException($"'{path}' is not a checkpoint of {trial} (expected <checkpoint dir>/{trial}/aNNNN/{EpochPrefix}NNNN{Extension})");
        if (at.Trial != trial) throw new InvalidDataException($"checkpoint '{path}' belongs to {at.Trial}, not {trial}");
        var owner = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, OwnerFile);
        if (at.Assignment is not null && File.Exists(owner) && ReadOwner(owner).GetValueOrDefault("trial") is { } claimed && claimed != trial.ToString())
            throw new InvalidDataException($"checkpoint '{path}' is in a folder claimed for {claimed}, not {trial}");
    }

    /// <summary>
    /// Every checkpoint of <paramref name="trial"/> on disk, in all its assignments' folders, oldest first (by epoch, then
    /// path). Temp files of writes in progress (or of a writer that died) and other files are not checkpoints.
    /// </summary>
    public IReadOnlyList<CheckpointRef> List(TrialId trial)
    {
        var folder = FolderOf(trial);
        if (!Directory.Exists(folder)) return [];
        var found = ListIn(folder).ToList();
        foreach (var sub in Directory.GetDirectories(folder))
            if (AssignmentFolder().IsMatch(Path.GetFileName(sub))) found.AddRange(ListIn(sub));
        return found.OrderBy(c => c.Epoch).ThenBy(c => c.Path, StringComparer.Ordinal).ToList();
    }

    /// <summary>The checkpoints in one folder, oldest first.</summary>
    public static IReadOnlyList<CheckpointRef> ListIn(string folder)
    {
        if (!Directory.Exists(folder)) return [];
        var found = new List<CheckpointRef>();
        foreach (var file in Directory.GetFiles(folder, EpochPrefix + "*" + Extension))
            if (EpochOf(Path.GetFileName(file)) is { } epoch)
                found.Add(new CheckpointRef(epoch, file));
        found.Sort((a, b) => a.Epoch.CompareTo(b.Epoch));
        return found;
    }

    /// <summary>
    /// Saves the checkpoint of <paramref name="trial"/> after <paramref name="epoch"/> with <paramref name="write"/>
    /// (which writes the file it is given: a temp file, see <see cref="WriteAtomically"/>) into the folder of
    /// <paramref name="assignment"/> — claimed at its first save, recording <paramref name="resumedFrom"/> as where it
    /// continued from — and remembers it, so that a crash restart of the same assignment may continue from it. Before
    /// writing, temp files killed writers left in its folder and those of earlier assignments are removed; after, this assignment's checkpoints
    /// beyond the newest <see cref="Keep"/> (except its newest <paramref name="healthy"/> one) and any newer than
    /// <paramref name="epoch"/> (left before a restart from an older one) are deleted. Only this assignment's folder is
    /// ever written or pruned, and no folder claimed after it is touched.
    /// </summary>
    public CheckpointRef Save(TrialId trial, int assignment, int epoch, Action<string> write, bool healthy = true, CheckpointRef? resumedFrom = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        var owned = Own(trial, assignment, resumedFrom);
        lock (owned)
        {
            RemoveTempFiles(trial, owned.Folder);
            var path = Path.Combine(owned.Folder, FileName(epoch));
            WriteAtomically(path, write);
            owned.Saved = epoch;
            if (healthy) owned.Healthy = epoch;
            else if (owned.Healthy >= epoch) owned.Healthy = null;
            Prune(owned);
            return new CheckpointRef(epoch, path);
        }
    }

    /// <summary>
    /// The coordinator journaled the checkpoint of <paramref name="assignment"/> after <paramref name="epoch"/>: from now
    /// on pruning may delete the assignment's older checkpoints, never that one or a newer one. Until the first such word
    /// nothing is pruned: a worker cut off from its coordinator keeps the checkpoint the journal points at, for whoever
    /// takes the trial over.
    /// </summary>
    public void Recorded(TrialId trial, int assignment, int epoch)
    {
        Owned? owned;
        lock (_owned) _owned.TryGetValue((trial, assignment), out owned);
        if (owned is null) return;
        lock (owned) owned.Recorded = Math.Max(owned.Recorded, epoch);
    }

    /// <summary>
    /// Where an assignment continues: <paramref name="assigned"/> (the checkpoint the coordinator handed it), or a newer
    /// one this assignment saved through this store before it crashed. Files of other assignments — a stale attempt's, a
    /// writer's that was given up on — are never picked.
    /// </summary>
    public CheckpointRef? Resume(TrialId trial, int assignment, CheckpointRef? assigned)
    {
        Owned? owned;
        lock (_owned) _owned.TryGetValue((trial, assignment), out owned);
        if (owned is null) return assigned;
        CheckpointRef? own;
        lock (owned) own = ListIn(owned.Folder).LastOrDefault(c => c.Epoch <= owned.Saved);
        return own is not null && own.Epoch > (assigned?.Epoch ?? 0) ? own : assigned;
    }

    /// <summary>
    /// What to load, in order, to continue from <paramref name="start"/>: it, then the older checkpoints of the folder it
    /// is in, then the checkpoint that folder's assignment resumed from and the older ones of its folder, and so on back
    /// along the trial's lineage — each older than the one before, so neither a newer file of a stale attempt nor one of
    /// another trial is ever offered. The first that loads wins; none: the trial starts from scratch.
    /// </summary>
    public static IReadOnlyList<CheckpointRef> Candidates(TrialId trial, CheckpointRef start)
    {
        ArgumentNullException.ThrowIfNull(start);
        var candidates = new List<CheckpointRef> { start };
        int below = start.Epoch;
        var folder = Path.GetDirectoryName(Path.GetFullPath(start.Path));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (folder is not null && seen.Add(folder))
        {
            foreach (var older in ListIn(folder).Reverse())
                if (older.Epoch < below && Locate(older.Path)?.Trial == trial)
                {
                    candidates.Add(older);
                    below = older.Epoch;
                }
            if (ResumedFrom(folder) is not { } parent || parent.Epoch >= below || Locate(parent.Path)?.Trial != trial) break;
            candidates.Add(parent);
            below = parent.Epoch;
            folder = Path.GetDirectoryName(parent.Path);
        }
        return candidates;
    }

    /// <summary>
    /// Loads the first of <see cref="Candidates"/> that <paramref name="load"/> (which returns the epoch the file was saved
    /// after) accepts: <paramref name="start"/>, or, when it cannot be loaded (truncated, corrupt, gone, another trial's),
    /// the previous checkpoint along the trial's lineage. <paramref name="afterFailure"/> runs after each failed load (to
    /// replace a trainable that may hold half a checkpoint's state). A file that cannot be read for lack of permission is
    /// not a reason to fall back: that exception is thrown. None loads: <see cref="Restored.Loaded"/> is null (from scratch).
    /// </summary>
    public static Restored Restore(TrialId trial, CheckpointRef start, Func<string, int> load, Action? afterFailure = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(load);
        var failures = new List<string>();
        foreach (var candidate in Candidates(trial, start))
        {
            cancel.ThrowIfCancellationRequested();
            try
            {
                ExpectOwnedBy(trial, candidate.Path);
                int epoch = load(candidate.Path);
                return new Restored(epoch == candidate.Epoch ? candidate : candidate with { Epoch = epoch }, failures);
            }
            catch (Exception ex) when (ex is not (OperationCanceledException or UnauthorizedAccessException or OutOfMemoryException))
            {
                failures.Add($"checkpoint '{candidate.Path}' cannot be loaded ({ex.GetType().Name}: {ex.Message})");
                afterFailure?.Invoke();
            }
        }
        return new Restored(null, failures);
    }

    /// <summary>
    /// Writes <paramref name="path"/> so that it is either whole or absent, and durable: <paramref name="write"/> writes a
    /// unique temp file in the same folder, which is flushed to disk and then renamed over <paramref name="path"/>; the
    /// folder is then flushed too, so the new entry survives a power cut before anyone is told of the file. When
    /// <paramref name="write"/> throws, the temp file is removed and <paramref name="path"/> is left as it was.
    /// </summary>
    public static void WriteAtomically(string path, Action<string> write)
    {
        AtomicFile.Write(path, write);
        DirectorySync.Flush(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>The folder of (trial, assignment): claimed on first use.</summary>
    private Owned Own(TrialId trial, int assignment, CheckpointRef? resumedFrom)
    {
        lock (_owned)
        {
            if (!_owned.TryGetValue((trial, assignment), out var owned))
                _owned[(trial, assignment)] = owned = new Owned(Claim(trial, assignment, resumedFrom));
            return owned;
        }
    }

    /// <summary>
    /// Claims a folder for (trial, assignment): <c>aNNNN</c>, or <c>aNNNN-2</c>, <c>aNNNN-3</c>... when another writer
    /// claimed it already (a coordinator restarted by <c>sweeper resume</c> numbers assignments from 1 again). The claim
    /// is the exclusive creation of <see cref="OwnerFile"/>; it and the new folders are flushed to disk.
    /// </summary>
    private string Claim(TrialId trial, int assignment, CheckpointRef? resumedFrom)
    {
        var trialFolder = FolderOf(trial);
        Directory.CreateDirectory(trialFolder);
        for (int n = 1; ; n++)
        {
            var name = AssignmentFolderName(assignment) + (n == 1 ? "" : string.Create(CultureInfo.InvariantCulture, $"-{n}"));
            var folder = Path.Combine(trialFolder, name);
            Directory.CreateDirectory(folder);
            var owner = Path.Combine(folder, OwnerFile);
            try
            {
                using var claim = new FileStream(owner, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                var text = new StringBuilder()
                    .Append(CultureInfo.InvariantCulture, $"trial={trial}\n")
                    .Append(CultureInfo.InvariantCulture, $"assignment={assignment}\n");
                if (resumedFrom is not null)
                    text.Append(CultureInfo.InvariantCulture, $"resumed_from_epoch={resumedFrom.Epoch}\n")
                        .Append(CultureInfo.InvariantCulture, $"resumed_from={StoredFrom(folder, resumedFrom.Path)}\n");
                text.Append(CultureInfo.InvariantCulture, $"host={Environment.MachineName}\n")
                    .Append(CultureInfo.InvariantCulture, $"pid={Environment.ProcessId}\n")
                    .Append(CultureInfo.InvariantCulture, $"claimed_at={DateTimeOffset.UtcNow:O}\n");
                claim.Write(Encoding.UTF8.GetBytes(text.ToString()));
                claim.Flush(flushToDisk: true);
            }
            catch (IOException) when (File.Exists(owner))
            {
                continue; // another assignment's folder
            }
            DirectorySync.Flush(folder);
            DirectorySync.Flush(trialFolder);
            DirectorySync.Flush(Path.GetDirectoryName(Path.GetFullPath(trialFolder))!);
            return folder;
        }
    }

    /// <summary>The path of a resumed-from checkpoint as an owner file keeps it: relative to the folder when it is in the same checkpoint root.</summary>
    private string StoredFrom(string folder, string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetFullPath(Root);
        var inRoot = Path.GetRelativePath(root, full);
        return inRoot == ".." || inRoot.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(inRoot)
            ? full
            : Path.GetRelativePath(folder, full);
    }

    /// <summary>The checkpoint the assignment owning <paramref name="folder"/> resumed from, as its owner file says; null if none.</summary>
    private static CheckpointRef? ResumedFrom(string folder)
    {
        var owner = Path.Combine(folder, OwnerFile);
        if (!File.Exists(owner)) return null;
        Dictionary<string, string> fields;
        try { fields = ReadOwner(owner); }
        catch (IOException) { return null; }
        if (!fields.TryGetValue("resumed_from", out var path) || path.Length == 0
            || !int.TryParse(fields.GetValueOrDefault("resumed_from_epoch"), NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)) return null;
        return new CheckpointRef(epoch, Path.GetFullPath(path, folder));
    }

    private static Dictionary<string, string> ReadOwner(string owner)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines(owner))
            if (line.IndexOf('=') is var eq and > 0) fields[line[..eq]] = line[(eq + 1)..];
        return fields;
    }

    /// <summary>
    /// Removes the temp files (<c>epoch-NNNN.ckpt.*.tmp</c>) killed writers left: in <paramref name="own"/> folder, in the
    /// trial's folder (the layout before assignment folders) and in the folders of assignments claimed before this one
    /// (their owner file is older, by the file system's clock). A folder claimed at the same time or later may belong to a
    /// live writer that took the trial over: a writer that was given up on and wakes up never deletes its files.
    /// </summary>
    private void RemoveTempFiles(TrialId trial, string own)
    {
        var folder = FolderOf(trial);
        if (!Directory.Exists(folder)) return;
        var ownClaim = File.GetLastWriteTimeUtc(Path.Combine(own, OwnerFile));
        var folders = Directory.GetDirectories(folder).Where(d => AssignmentFolder().IsMatch(Path.GetFileName(d))).Prepend(folder);
        foreach (var f in folders)
        {
            var owner = Path.Combine(f, OwnerFile);
            if (f != own && File.Exists(owner) && File.GetLastWriteTimeUtc(owner) >= ownClaim) continue;
            foreach (var tmp in Directory.GetFiles(f, EpochPrefix + "*" + Extension + ".*" + TempExtension))
            {
                try { File.Delete(tmp); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        }
    }

    /// <summary>
    /// Deletes this assignment's checkpoints newer than the one just saved, and those beyond the newest <see cref="Keep"/>
    /// but its newest healthy one and any the coordinator has not yet superseded in its journal (see <see cref="Recorded"/>).
    /// </summary>
    private void Prune(Owned owned)
    {
        var files = ListIn(owned.Folder);
        int kept = 0;
        for (int i = files.Count - 1; i >= 0; i--)
        {
            var c = files[i];
            bool keep = c.Epoch <= owned.Saved && (Keep == 0 || kept < Keep || c.Epoch == owned.Healthy || c.Epoch >= owned.Recorded);
            if (keep)
            {
                kept++;
                continue;
            }
            try { File.Delete(c.Path); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
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

    /// <summary>An assignment's folder name: <c>a0003</c>, or <c>a0003-2</c> for a second claim of the same number.</summary>
    [GeneratedRegex(@"^a[0-9]{4,}(-[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex AssignmentFolder();

    /// <summary>An assignment's folder and what it saved there (guarded by its own lock).</summary>
    private sealed class Owned(string folder)
    {
        public string Folder { get; } = folder;
        /// <summary>The epoch of the newest save (0: none yet).</summary>
        public int Saved { get; set; }
        /// <summary>The epoch of the newest healthy save, kept whatever <see cref="Keep"/> says.</summary>
        public int? Healthy { get; set; }
        /// <summary>The newest epoch the coordinator journaled (0: none yet): it and newer ones are kept whatever <see cref="Keep"/> says.</summary>
        public int Recorded { get; set; }
    }
}
