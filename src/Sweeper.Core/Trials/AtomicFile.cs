namespace Sweeper.Core.Trials;

/// <summary>
/// Writing a file so that readers see the old content or the new, never half of it: into a temporary file of its own
/// in the same folder (<c>&lt;name&gt;.&lt;guid&gt;.tmp</c>), flushed to disk, then renamed over the target. The one
/// way Sweeper replaces result files and checkpoints.
/// </summary>
public static class AtomicFile
{
    public const string TempExtension = ".tmp";

    /// <summary>
    /// Replaces <paramref name="path"/> with what <paramref name="write"/> writes to the path it is given; creates the
    /// folder. When <paramref name="write"/> throws, the temporary file is removed and <paramref name="path"/> is untouched.
    /// </summary>
    public static void Write(string path, Action<string> write)
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

    /// <summary><see cref="Write"/> of <paramref name="content"/> as UTF-8 without a byte-order mark.</summary>
    public static void WriteText(string path, string content) =>
        Write(path, tmp => File.WriteAllText(tmp, content, new System.Text.UTF8Encoding(false)));
}
