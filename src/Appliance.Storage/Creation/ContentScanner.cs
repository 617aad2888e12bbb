using System.Text;

namespace Appliance.Storage.Creation;

/// <summary>A file to put in a new torrent: where it is, its path inside the torrent ('/'-separated) and its size.</summary>
public sealed record ContentFile(string FullPath, string RelativePath, long Length);

/// <summary>
/// Lists what a new torrent holds, in mktorrent's order so equal content gives mktorrent's info-hash: every regular
/// file under the folder (hidden ones and empty ones included, symbolic links followed, empty folders ignored),
/// sorted by the bytes of the relative path ('/' separators), which puts "a-b/x" before "a.txt" before "a/x".
/// </summary>
public static class ContentScanner
{
    public static IReadOnlyList<ContentFile> Scan(string path, string? exclude = null)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (File.Exists(full)) return [new ContentFile(full, Path.GetFileName(full), new FileInfo(full).Length)];
        if (!Directory.Exists(full)) throw new FileNotFoundException($"'{path}' does not exist", path);
        string? excluded = exclude is null ? null : Path.GetFullPath(exclude);
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            AttributesToSkip = 0,
            IgnoreInaccessible = false,
            ReturnSpecialDirectories = false,
        };
        var files = new List<(byte[] Key, ContentFile File)>();
        foreach (string file in Directory.EnumerateFiles(full, "*", options))
        {
            if (file == excluded) continue;
            var info = new FileInfo(file);
            if (info.LinkTarget is not null)
            {
                // Follow the link like mktorrent; a dangling link is an error, not a silent omission.
                if (info.ResolveLinkTarget(returnFinalTarget: true) is not FileInfo { Exists: true } target)
                    throw new FileNotFoundException($"'{file}' is a broken symbolic link", file);
                info = target;
            }
            string relative = Path.GetRelativePath(full, file).Replace(Path.DirectorySeparatorChar, '/');
            files.Add((Encoding.UTF8.GetBytes(relative), new ContentFile(file, relative, info.Length)));
        }
        files.Sort((a, b) => a.Key.AsSpan().SequenceCompareTo(b.Key));
        return files.Select(f => f.File).ToList();
    }
}
