// Marks one GNU symbol-version requirement of an ELF64 shared library weak (VER_FLG_WEAK).
//
// TorchSharp 0.107.0's libLibTorchSharp.so asks libstdc++ for GLIBCXX_3.4.32 (GCC 13), which
// Debian 12's libstdc++ lacks. The only symbol behind that version, _ZSt21ios_base_library_initv,
// is a bare reference with no relocation, so a weak requirement lets the loader go on and the
// library works. The change is one byte: the vna_flags of that .gnu.version_r entry.
//
// This file is compiled twice: into the build (as an MSBuild inline task, see Sweeper.Native.targets)
// and into the tests (with SWEEPER_NO_MSBUILD defined), so the logic the build runs is the logic tested.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
#if !SWEEPER_NO_MSBUILD
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
#endif

namespace Sweeper.Build
{
    public enum ElfPatchOutcome { Patched, AlreadyWeak, NotRequired }

    public static class ElfVersionPatcher
    {
        public const ushort VerFlagWeak = 0x2;
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;

        /// <summary>A version requirement (.gnu.version_r aux entry): its name, flags and the file offset of its flags.</summary>
        public sealed class VersionNeed
        {
            public VersionNeed(string file, string name, ushort flags, long flagsOffset)
            {
                File = file; Name = name; Flags = flags; FlagsOffset = flagsOffset;
            }
            public string File { get; }
            public string Name { get; }
            public ushort Flags { get; }
            public long FlagsOffset { get; }
        }

        public static IReadOnlyList<VersionNeed> ReadVersionNeeds(byte[] elf)
        {
            var result = new List<VersionNeed>();
            foreach (var sec in Sections(elf).Where(s => s.Type == ShtGnuVerneed))
            {
                var strtab = Sections(elf)[(int)sec.Link];
                long entry = sec.Offset;
                for (int n = 0; n < (int)sec.Info; n++)
                {
                    ushort cnt = U16(elf, entry + 2);
                    string file = CString(elf, strtab.Offset + U32(elf, entry + 4));
                    long aux = entry + U32(elf, entry + 8);
                    for (int a = 0; a < cnt; a++)
                    {
                        ushort flags = U16(elf, aux + 4);
                        string name = CString(elf, strtab.Offset + U32(elf, aux + 8));
                        result.Add(new VersionNeed(file, name, flags, aux + 4));
                        uint nextAux = U32(elf, aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint next = U32(elf, entry + 12);
                    if (next == 0) break;
                    entry += next;
                }
            }
            return result;
        }

        /// <summary>The version names a library defines (.gnu.version_d), e.g. GLIBCXX_3.4.30.</summary>
        public static IReadOnlyList<string> ReadVersionDefinitions(byte[] elf)
        {
            var result = new List<string>();
            foreach (var sec in Sections(elf).Where(s => s.Type == ShtGnuVerdef))
            {
                var strtab = Sections(elf)[(int)sec.Link];
                long entry = sec.Offset;
                for (int n = 0; n < (int)sec.Info; n++)
                {
                    long aux = entry + U32(elf, entry + 12);
                    result.Add(CString(elf, strtab.Offset + U32(elf, aux)));
                    uint next = U32(elf, entry + 16);
                    if (next == 0) break;
                    entry += next;
                }
            }
            return result;
        }

        /// <summary>Returns a copy of <paramref name="elf"/> with the requirement <paramref name="version"/> marked weak.</summary>
        public static ElfPatchOutcome MarkWeak(byte[] elf, string version, out byte[] patched)
        {
            patched = elf;
            var need = ReadVersionNeeds(elf).FirstOrDefault(v => v.Name == version);
            if (need == null) return ElfPatchOutcome.NotRequired;
            if ((need.Flags & VerFlagWeak) != 0) return ElfPatchOutcome.AlreadyWeak;
            patched = (byte[])elf.Clone();
            ushort flags = (ushort)(need.Flags | VerFlagWeak);
            patched[need.FlagsOffset] = (byte)(flags & 0xff);
            patched[need.FlagsOffset + 1] = (byte)(flags >> 8);
            return ElfPatchOutcome.Patched;
        }

        /// <summary>
        /// Patches the file in place by writing a new file and renaming it over the old one, so that a
        /// hard link into the NuGet cache is broken, never written through. Keeps the timestamp, so
        /// MSBuild's copy-if-changed does not copy the original back on every build.
        /// </summary>
        public static ElfPatchOutcome MarkWeakInFile(string path, string version)
        {
            var bytes = System.IO.File.ReadAllBytes(path);
            var outcome = MarkWeak(bytes, version, out var patched);
            if (outcome != ElfPatchOutcome.Patched) return outcome;
            var stamp = System.IO.File.GetLastWriteTimeUtc(path);
            var tmp = path + ".sweeper-patch.tmp";
            System.IO.File.WriteAllBytes(tmp, patched);
            System.IO.File.Delete(path); // unlinks: a hard link's other name keeps the original bytes
            System.IO.File.Move(tmp, path);
            System.IO.File.SetLastWriteTimeUtc(path, stamp);
            return outcome;
        }

        /// <summary>The libstdc++ the host's loader would use, or null when none is found.</summary>
        public static string? FindHostLibStdCxx()
        {
            // The library this very process has mapped is the one the loader picks.
            try
            {
                foreach (var line in System.IO.File.ReadLines("/proc/self/maps"))
                {
                    int i = line.IndexOf('/');
                    if (i >= 0 && line.IndexOf("libstdc++.so", StringComparison.Ordinal) >= 0)
                        return line.Substring(i).Trim();
                }
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            string[] candidates =
            {
                "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
            };
            return candidates.FirstOrDefault(System.IO.File.Exists);
        }

        public static bool LibraryDefinesVersion(string libraryPath, string version) =>
            ReadVersionDefinitions(System.IO.File.ReadAllBytes(libraryPath)).Contains(version);

        private readonly struct Section
        {
            public Section(uint type, long offset, long size, uint link, uint info)
            { Type = type; Offset = offset; Size = size; Link = link; Info = info; }
            public uint Type { get; }
            public long Offset { get; }
            public long Size { get; }
            public uint Link { get; }
            public uint Info { get; }
        }

        private static List<Section> Sections(byte[] elf)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("only 64-bit little-endian ELF files are supported");
            long shoff = (long)U64(elf, 0x28);
            int shentsize = U16(elf, 0x3A);
            int shnum = U16(elf, 0x3C);
            var list = new List<Section>(shnum);
            for (int i = 0; i < shnum; i++)
            {
                long h = shoff + (long)i * shentsize;
                list.Add(new Section(U32(elf, h + 4), (long)U64(elf, h + 24), (long)U64(elf, h + 32), U32(elf, h + 40), U32(elf, h + 44)));
            }
            return list;
        }

        private static ushort U16(byte[] b, long o) => (ushort)(b[o] | (b[o + 1] << 8));
        private static uint U32(byte[] b, long o) => (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));
        private static ulong U64(byte[] b, long o) => U32(b, o) | ((ulong)U32(b, o + 4) << 32);

        private static string CString(byte[] b, long o)
        {
            long end = o;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)o, (int)(end - o));
        }
    }

#if !SWEEPER_NO_MSBUILD
    /// <summary>MSBuild task: patch every copy of the library under a folder when the host lacks the version.</summary>
    public class MarkElfVersionWeak : Task
    {
        [Required] public string Directory { get; set; } = "";
        [Required] public string LibraryName { get; set; } = "";
        [Required] public string Version { get; set; } = "";

        public override bool Execute()
        {
            if (!System.IO.Directory.Exists(Directory)) return true;
            var copies = System.IO.Directory.GetFiles(Directory, LibraryName, SearchOption.AllDirectories);
            if (copies.Length == 0) return true;
            var host = ElfVersionPatcher.FindHostLibStdCxx();
            if (host != null && ElfVersionPatcher.LibraryDefinesVersion(host, Version))
            {
                Log.LogMessage(MessageImportance.Low, $"{host} defines {Version}: {LibraryName} left as shipped.");
                return true;
            }
            foreach (var copy in copies)
            {
                var outcome = ElfVersionPatcher.MarkWeakInFile(copy, Version);
                Log.LogMessage(MessageImportance.Normal,
                    $"{copy}: {Version} requirement {outcome} (host libstdc++: {host ?? "not found"}).");
            }
            return true;
        }
    }
#endif
}
