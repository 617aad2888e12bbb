using Appliance.Protocol.Metainfo;

namespace Appliance.Storage.Layout;

/// <summary>One file of a layout: where it is on disk and where it sits in the torrent's byte stream.</summary>
public sealed record LayoutFile(string FullPath, string RelativePath, long Offset, long Length)
{
    public long End => Offset + Length;

    /// <summary>A BEP 47 pad file (or a v2 torrent's implied gap): zeros that exist on no disk; <see cref="FullPath"/> is empty.</summary>
    public bool IsPad { get; init; }
}

/// <summary>A run of bytes inside one file: <see cref="FileIndex"/> into <see cref="FileLayout.Files"/>.</summary>
public readonly record struct FileSpan(int FileIndex, long FileOffset, int Length);

/// <summary>
/// Maps torrent byte ranges (piece, begin, length) to runs inside the files, in the order the files appear
/// in the torrent. Zero-length files own no bytes and never appear in a span.
/// </summary>
public sealed class FileLayout
{
    private readonly long[] _starts;      // torrent offset of each non-empty file, strictly increasing
    private readonly int[] _fileIndexes;  // index into Files of each non-empty file

    private FileLayout(IReadOnlyList<LayoutFile> files, int pieceLength)
    {
        Files = files;
        PieceLength = pieceLength;
        TotalLength = files.Count == 0 ? 0 : files[^1].End;
        PieceCount = (int)((TotalLength + pieceLength - 1) / pieceLength);
        var starts = new List<long>(files.Count);
        var indexes = new List<int>(files.Count);
        for (int i = 0; i < files.Count; i++)
        {
            if (files[i].Length == 0) continue;
            starts.Add(files[i].Offset);
            indexes.Add(i);
        }
        _starts = [.. starts];
        _fileIndexes = [.. indexes];
    }

    public IReadOnlyList<LayoutFile> Files { get; }
    public int PieceLength { get; }
    public int PieceCount { get; }
    public long TotalLength { get; }

    /// <summary>
    /// The layout of a torrent's content at CONTENT/&lt;name&gt; (the file itself for a single-file torrent,
    /// a folder for a multi-file one). Every path is checked to resolve inside that location, on top of
    /// the metainfo's own path validation, so a hostile torrent cannot point us outside the content folder.
    /// </summary>
    public static FileLayout ForTorrent(TorrentMetainfo metainfo, string contentFolder)
    {
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(contentFolder));
        string top = Path.GetFullPath(Path.Combine(root, metainfo.Name));
        RequireInside(top, root, metainfo.Name);
        var files = new List<LayoutFile>(metainfo.Files.Count);
        foreach (var file in metainfo.Files)
        {
            if (file.IsPad)
            {
                files.Add(new LayoutFile(string.Empty, file.Path, file.Offset, file.Length) { IsPad = true });
                continue;
            }
            string full = top;
            if (metainfo.IsMultiFile)
            {
                full = Path.GetFullPath(Path.Combine([top, .. file.PathSegments]));
                RequireInside(full, top, file.Path);
            }
            files.Add(new LayoutFile(full, metainfo.IsMultiFile ? file.Path : metainfo.Name, file.Offset, file.Length));
        }
        return new FileLayout(files, metainfo.PieceLength);
    }

    /// <summary>A layout over files given in torrent order (for creating a torrent).</summary>
    public static FileLayout ForFiles(IReadOnlyList<(string FullPath, string RelativePath, long Length)> files, int pieceLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pieceLength, 1);
        var list = new List<LayoutFile>(files.Count);
        long offset = 0;
        foreach (var (fullPath, relativePath, length) in files)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(length);
            list.Add(new LayoutFile(fullPath, relativePath, offset, length));
            offset = checked(offset + length);
        }
        return new FileLayout(list, pieceLength);
    }

    /// <summary>A layout over files already placed (pad files included), for creating hybrid and v2 torrents.</summary>
    public static FileLayout ForPlacedFiles(IReadOnlyList<LayoutFile> files, int pieceLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pieceLength, 1);
        return new FileLayout(files, pieceLength);
    }

    public long PieceOffset(int piece) => (long)piece * PieceLength;

    public int PieceSize(int piece)
    {
        if ((uint)piece >= (uint)PieceCount) throw new ArgumentOutOfRangeException(nameof(piece));
        return piece == PieceCount - 1 ? (int)(TotalLength - PieceOffset(piece)) : PieceLength;
    }

    /// <summary>True when (piece, begin, length) lies inside one piece and asks for at least one byte.</summary>
    public bool IsValidBlock(int piece, int begin, int length) =>
        (uint)piece < (uint)PieceCount && begin >= 0 && length > 0 && (long)begin + length <= PieceSize(piece);

    /// <summary>
    /// Fills <paramref name="spans"/> with the file runs of [offset, offset + length) in order. Returns how many
    /// spans were written and, in <paramref name="covered"/>, how many bytes they cover: less than
    /// <paramref name="length"/> when <paramref name="spans"/> is too small (call again from offset + covered).
    /// </summary>
    public int MapRange(long offset, long length, Span<FileSpan> spans, out long covered)
    {
        covered = 0;
        if (length <= 0 || spans.IsEmpty) return 0;
        if (offset < 0 || offset + length > TotalLength) throw new ArgumentOutOfRangeException(nameof(offset));
        int slot = Array.BinarySearch(_starts, offset);
        if (slot < 0) slot = ~slot - 1;
        int count = 0;
        while (covered < length && count < spans.Length)
        {
            var file = Files[_fileIndexes[slot]];
            long fileOffset = offset + covered - file.Offset;
            int run = (int)Math.Min(Math.Min(file.Length - fileOffset, length - covered), int.MaxValue);
            spans[count++] = new FileSpan(_fileIndexes[slot], fileOffset, run);
            covered += run;
            if (fileOffset + run == file.Length) slot++;
        }
        return count;
    }

    /// <summary>The pieces holding any byte of file <paramref name="fileIndex"/> (empty range for a zero-length file).</summary>
    public (int First, int Count) PiecesOfFile(int fileIndex)
    {
        var file = Files[fileIndex];
        if (file.Length == 0) return (0, 0);
        int first = (int)(file.Offset / PieceLength);
        int last = (int)((file.End - 1) / PieceLength);
        return (first, last - first + 1);
    }

    /// <summary>The relative paths of the files holding bytes of a piece (for error messages).</summary>
    public IEnumerable<string> FilesOfPiece(int piece)
    {
        long start = PieceOffset(piece);
        long end = start + PieceSize(piece);
        foreach (var file in Files)
        {
            if (file.Length > 0 && !file.IsPad && file.Offset < end && file.End > start) yield return file.RelativePath;
        }
    }

    private static void RequireInside(string path, string folder, string what)
    {
        string prefix = folder.EndsWith(Path.DirectorySeparatorChar) ? folder : folder + Path.DirectorySeparatorChar;
        if (!path.StartsWith(prefix, StringComparison.Ordinal))
            throw new MetainfoException($"path '{what}' resolves outside the content folder");
    }
}
