using System.Numerics;
using System.Text;
using Appliance.Protocol.Metainfo;
using Appliance.Storage.Files;
using Appliance.Storage.Layout;
using Appliance.Storage.Verification;

namespace Appliance.Storage.Creation;

/// <summary>What to put in a new torrent besides the content.</summary>
public sealed record CreateOptions
{
    /// <summary>Null: chosen by size (<see cref="PieceLengths"/>).</summary>
    public int? PieceLength { get; init; }
    public IReadOnlyList<IReadOnlyList<string>> AnnounceTiers { get; init; } = [];
    public bool IsPrivate { get; init; }
    public string? Comment { get; init; }
    public string? CreatedBy { get; init; }
    public DateTimeOffset? CreationDate { get; init; }

    /// <summary>BEP 19 web seed URLs (<c>url-list</c>); outside the info dictionary, so the info-hash does not depend on them.</summary>
    public IReadOnlyList<string> WebSeeds { get; init; } = [];

    /// <summary>v1 (mktorrent's output), hybrid or v2 (libtorrent's output, BEP 52).</summary>
    public TorrentFormat Format { get; init; } = TorrentFormat.V1;
}

/// <summary>
/// Makes a .torrent from a file or folder: lists the files, hashes pieces in parallel with positional reads, encodes.
/// v1 follows mktorrent (its file order, so the same info-hash); hybrid and v2 follow libtorrent's creator: files in
/// file-tree order, a pad file after every file that does not end on a piece boundary (hybrid), executable bits as
/// attribute 'x', and SHA-256 merkle trees with piece layers.
/// </summary>
public static class TorrentCreator
{
    public static async Task<(byte[] Torrent, TorrentMetainfo Metainfo)> CreateAsync(string path, CreateOptions options,
        IProgress<double>? progress, CancellationToken ct, string? exclude = null)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        string name = Path.GetFileName(full);
        TorrentMetainfo.ValidateSegment(name, "name");
        bool multiFile = Directory.Exists(full);
        var content = ContentScanner.Scan(full, exclude);
        long total = content.Sum(f => f.Length);
        if (total == 0) throw new MetainfoException($"'{path}' holds no data (no files, or only empty ones)");
        int pieceLength = options.PieceLength ?? PieceLengths.ForTotalSize(total);
        bool v2 = options.Format != TorrentFormat.V1;
        if (v2)
        {
            // The file tree is a nested dictionary, so its order is by path component, not by the whole path string.
            content = [.. content.OrderBy(f => f.RelativePath.Split('/').Select(Encoding.UTF8.GetBytes).ToArray(), PathOrder.Instance)];
        }

        var layout = v2 ? AlignedLayout(content, pieceLength, multiFile) : FileLayout.ForFiles(content.Select(f => (f.FullPath, f.RelativePath, f.Length)).ToList(), pieceLength);
        PieceHasher.Result hashed;
        using (var files = FileHandles.Open(layout))
        {
            hashed = await PieceHasher.HashAsync(files, null, progress, ct, v2Shape: v2 ? V2Shape(layout) : null).ConfigureAwait(false);
            if (hashed.ReadErrors.Count > 0)
                throw new IOException($"{hashed.ReadErrors.OrderBy(e => e.Key).First().Value} (the content changed while hashing)");
        }

        var torrentFiles = new List<TorrentFile>(layout.Files.Count);
        var executable = content.Where(f => IsExecutable(f.FullPath)).Select(f => f.RelativePath).ToHashSet(StringComparer.Ordinal);
        foreach (var file in layout.Files)
        {
            var torrentFile = new TorrentFile(file.RelativePath.Split('/'), file.Length, file.Offset);
            if (file.IsPad) torrentFile = torrentFile with { Attributes = TorrentFileAttributes.Pad };
            else if (v2)
            {
                if (executable.Contains(file.RelativePath)) torrentFile = torrentFile with { Attributes = TorrentFileAttributes.Executable };
                if (file.Length > 0) torrentFile = WithMerkleRoot(torrentFile, hashed, pieceLength);
            }
            torrentFiles.Add(torrentFile);
        }
        if (options.Format == TorrentFormat.V2) torrentFiles.RemoveAll(f => f.IsPad);
        var draft = new MetainfoDraft(name, pieceLength, options.Format == TorrentFormat.V2 ? ReadOnlyMemory<byte>.Empty : hashed.Digests, torrentFiles, multiFile)
        {
            AnnounceTiers = options.AnnounceTiers,
            IsPrivate = options.IsPrivate,
            Comment = options.Comment,
            CreatedBy = options.CreatedBy,
            CreationDate = options.CreationDate?.ToUnixTimeSeconds(),
            Format = options.Format,
            WebSeeds = options.WebSeeds,
        };
        byte[] torrent = MetainfoWriter.Encode(draft);
        // Parse what we wrote: the same validation every consumer applies (safe paths, sizes, piece count, merkle roots).
        return (torrent, TorrentMetainfo.Parse(torrent));
    }

    /// <summary>
    /// Every file starts a piece: a pad file follows each file that ends inside one (libtorrent 2.0 pads after the last
    /// file too). A single file needs none.
    /// </summary>
    private static FileLayout AlignedLayout(IReadOnlyList<ContentFile> content, int pieceLength, bool multiFile)
    {
        var files = new List<LayoutFile>(content.Count * 2);
        long offset = 0;
        foreach (var file in content)
        {
            files.Add(new LayoutFile(file.FullPath, file.RelativePath, offset, file.Length));
            offset = checked(offset + file.Length);
            long gap = (pieceLength - offset % pieceLength) % pieceLength;
            if (multiFile && file.Length > 0 && gap > 0)
            {
                files.Add(new LayoutFile(string.Empty, ".pad/" + gap.ToString(System.Globalization.CultureInfo.InvariantCulture), offset, gap) { IsPad = true });
                offset += gap;
            }
        }
        return FileLayout.ForPlacedFiles(files, pieceLength);
    }

    private static Func<int, (int, long)?> V2Shape(FileLayout layout)
    {
        var starts = new List<long>();
        var real = new List<LayoutFile>();
        foreach (var file in layout.Files)
        {
            if (file.IsPad || file.Length == 0) continue;
            starts.Add(file.Offset);
            real.Add(file);
        }
        long[] offsets = [.. starts];
        return piece =>
        {
            long start = layout.PieceOffset(piece);
            int slot = Array.BinarySearch(offsets, start);
            if (slot < 0) slot = ~slot - 1;
            var file = real[slot];
            int data = (int)Math.Min(layout.PieceLength, file.End - start);
            long width = file.Length <= layout.PieceLength ? MerkleTree.Width(MerkleTree.LeafCount(file.Length)) : layout.PieceLength / MerkleTree.BlockSize;
            return (data, width);
        };
    }

    private static TorrentFile WithMerkleRoot(TorrentFile file, PieceHasher.Result hashed, int pieceLength)
    {
        int first = (int)(file.Offset / pieceLength);
        if (file.Length <= pieceLength) return file with { PiecesRoot = hashed.DigestV2(first).ToArray() };
        int pieces = (int)((file.Length + pieceLength - 1) / pieceLength);
        var layer = new byte[pieces * MerkleTree.HashLength];
        for (int i = 0; i < pieces; i++) hashed.DigestV2(first + i).CopyTo(layer.AsSpan(i * MerkleTree.HashLength));
        var root = new byte[MerkleTree.HashLength];
        int pieceLayer = BitOperations.Log2((uint)(pieceLength / MerkleTree.BlockSize));
        MerkleTree.Root(layer, MerkleTree.Width(pieces), pieceLayer, new byte[(pieces + 1) / 2 * MerkleTree.HashLength], root);
        return file with { PiecesRoot = root, PieceLayer = layer };
    }

    private static bool IsExecutable(string path) =>
        !OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & UnixFileMode.UserExecute) != 0;

    private sealed class PathOrder : IComparer<byte[][]>
    {
        public static readonly PathOrder Instance = new();

        public int Compare(byte[][]? x, byte[][]? y)
        {
            for (int i = 0; i < Math.Min(x!.Length, y!.Length); i++)
            {
                int order = x[i].AsSpan().SequenceCompareTo(y[i]);
                if (order != 0) return order;
            }
            return x.Length.CompareTo(y.Length);
        }
    }
}
