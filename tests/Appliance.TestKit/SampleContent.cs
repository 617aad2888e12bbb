namespace Appliance.TestKit;

/// <summary>
/// Deterministic test data: a multi-file folder with the awkward cases real torrents have (an empty file,
/// a nested folder, sizes that are not multiples of the piece length, a file smaller than a block).
/// </summary>
public static class SampleContent
{
    /// <summary>Relative paths and sizes of the standard multi-file sample.</summary>
    public static IReadOnlyList<(string Path, int Size)> MultiFileLayout { get; } =
    [
        ("a.bin", 100_003),
        ("empty.txt", 0),
        ("nested/deeper/c.bin", 70_001),
        ("nested/b.bin", 1_000),
        ("z-last.bin", 300_017),
    ];

    /// <summary>Writes the multi-file sample as ROOT/NAME/... and returns the folder.</summary>
    public static string WriteMultiFile(string root, string name = "sample", int seed = 1, int scale = 1)
    {
        string folder = Path.Combine(root, name);
        foreach (var (path, size) in MultiFileLayout)
        {
            WriteFile(Path.Combine(folder, path), size * scale, seed + path.Length);
        }
        return folder;
    }

    /// <summary>Writes one file of pseudo-random bytes (deterministic for a seed).</summary>
    public static string WriteFile(string path, long size, int seed = 7)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var random = new Random(seed);
        var buffer = new byte[Math.Min(size, 1 << 20)];
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        for (long written = 0; written < size;)
        {
            int n = (int)Math.Min(buffer.Length, size - written);
            random.NextBytes(buffer.AsSpan(0, n));
            stream.Write(buffer, 0, n);
            written += n;
        }
        return path;
    }

    /// <summary>True when two folders hold the same files with the same bytes (for download checks).</summary>
    public static bool SameTree(string expected, string actual, out string difference)
    {
        var left = Directory.EnumerateFiles(expected, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(expected, f)).Order(StringComparer.Ordinal).ToList();
        var right = Directory.Exists(actual)
            ? Directory.EnumerateFiles(actual, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(actual, f)).Order(StringComparer.Ordinal).ToList()
            : [];
        foreach (var file in left)
        {
            string other = Path.Combine(actual, file);
            if (!File.Exists(other))
            {
                // Some clients never create empty files.
                if (new FileInfo(Path.Combine(expected, file)).Length == 0) continue;
                difference = $"missing {file}";
                return false;
            }
            if (!File.ReadAllBytes(Path.Combine(expected, file)).AsSpan().SequenceEqual(File.ReadAllBytes(other)))
            {
                difference = $"{file} differs";
                return false;
            }
        }
        difference = "";
        return true;
    }
}
