using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using Appliance.Protocol.Bencode;

namespace Appliance.Protocol.Metainfo;

/// <summary>
/// A parsed and validated .torrent: v1, v2 (BEP 52) or hybrid. Everything a seeder needs: the info-hashes over the exact
/// info bytes, the file layout (BEP 47 pad files included, v2 files aligned to pieces), piece hashes or merkle roots, and
/// trackers. Parsing refuses anything unsafe to seed, with a reason, in time and memory linear in the input.
/// </summary>
public sealed class TorrentMetainfo
{
    public const int MinPieceLength = 16 * 1024;
    public const int MaxPieceLength = 64 * 1024 * 1024;
    public const int MaxFiles = 1_000_000;
    public const int MaxPathSegmentBytes = 255;

    /// <summary>Folders in one path, and bytes in one path (Linux PATH_MAX) and in all paths of a torrent.</summary>
    public const int MaxPathDepth = 64;
    public const int MaxPathBytes = 4096;
    public const long MaxTotalPathBytes = 64L * 1024 * 1024;

    /// <summary>1 PiB: far beyond any real torrent, and small enough that sums and offsets never overflow.</summary>
    public const long MaxTotalLength = 1L << 50;

    private TorrentMetainfo() { }

    /// <summary>The key the torrent is known by: the v1 info-hash, or for a v2-only torrent the truncated v2 one.</summary>
    public required InfoHash InfoHash { get; init; }

    /// <summary>BEP 52: SHA-256 of the info dictionary (null for v1-only torrents).</summary>
    public byte[]? InfoHashV2 { get; init; }

    public TorrentFormat Format { get; init; }
    public bool HasV1 => Format != TorrentFormat.V2;
    public bool HasV2 => Format != TorrentFormat.V1;

    /// <summary>The v2 info-hash cut to 20 bytes, as v2 peers put it in the handshake, trackers and the DHT.</summary>
    public InfoHash? TruncatedInfoHashV2 => InfoHashV2 is null ? null : new InfoHash(InfoHashV2.AsSpan(0, InfoHash.Length));

    /// <summary>Every 20-byte hash peers may find and reach this torrent by: one for v1 or v2, both for a hybrid (one swarm).</summary>
    public IReadOnlyList<InfoHash> SwarmHashes => Format == TorrentFormat.Hybrid ? [InfoHash, TruncatedInfoHashV2!.Value] : [InfoHash];
    public required string Name { get; init; }
    public required int PieceLength { get; init; }
    public required int PieceCount { get; init; }
    public required long TotalLength { get; init; }
    public required bool IsMultiFile { get; init; }
    public required bool IsPrivate { get; init; }
    public required IReadOnlyList<TorrentFile> Files { get; init; }

    /// <summary>All v1 piece hashes, 20 bytes each (empty for a v2-only torrent).</summary>
    public required ReadOnlyMemory<byte> PieceHashes { get; init; }

    /// <summary>The exact encoded info dictionary (served to magnet-link peers, BEP 9).</summary>
    public required ReadOnlyMemory<byte> InfoBytes { get; init; }

    /// <summary>Tracker tiers (BEP 12); a lone <c>announce</c> becomes one tier of one URL.</summary>
    public required IReadOnlyList<IReadOnlyList<string>> AnnounceTiers { get; init; }

    public string? Comment { get; init; }
    public string? CreatedBy { get; init; }

    /// <summary>BEP 19 web seeds (<c>url-list</c>, a string or a list of strings); empty when none.</summary>
    public IReadOnlyList<string> WebSeeds { get; init; } = [];
    public long? CreationDate { get; init; }

    public IEnumerable<string> Trackers => AnnounceTiers.SelectMany(t => t);

    public int PieceSize(int index)
    {
        if ((uint)index >= (uint)PieceCount) throw new ArgumentOutOfRangeException(nameof(index));
        return index == PieceCount - 1 ? (int)(TotalLength - (long)index * PieceLength) : PieceLength;
    }

    public ReadOnlySpan<byte> PieceHash(int index) => PieceHashes.Span.Slice(index * InfoHash.Length, InfoHash.Length);

    public string MagnetLink(IEnumerable<string>? extraTrackers = null) =>
        Metainfo.MagnetLink.Format(HasV1 ? InfoHash : null, InfoHashV2, Name, Trackers.Concat(extraTrackers ?? []).Distinct());

    public static TorrentMetainfo Load(string path)
    {
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (IOException e) { throw new MetainfoException($"cannot read {path}: {e.Message}", e); }
        return Parse(data);
    }

    public static bool TryParse(ReadOnlyMemory<byte> data, out TorrentMetainfo? metainfo, out string? reason)
    {
        try
        {
            metainfo = Parse(data);
            reason = null;
            return true;
        }
        catch (MetainfoException e)
        {
            metainfo = null;
            reason = e.Reason;
            return false;
        }
    }

    public static TorrentMetainfo Parse(ReadOnlyMemory<byte> data)
    {
        if (!BencodeDocument.TryParse(data, BencodeLimits.Default, out var document, out var error))
            throw new MetainfoException("not valid bencode: " + error.Describe());
        var root = document.Root;
        if (!root.IsDictionary) throw new MetainfoException("the top level is not a dictionary");

        var info = root["info"u8];
        if (!info.IsDictionary) throw new MetainfoException("missing 'info' dictionary");

        string name = RequireString(info, "name"u8, "info.name");
        ValidateSegment(name, "info.name");

        long pieceLength = RequireInteger(info, "piece length"u8, "info.piece length");
        if (pieceLength < MinPieceLength || pieceLength > MaxPieceLength || !BitOperations.IsPow2(pieceLength))
            throw new MetainfoException($"piece length {pieceLength} is not a power of two between {MinPieceLength} and {MaxPieceLength}");

        bool hasV2 = false;
        var metaVersion = info["meta version"u8];
        if (metaVersion.Exists)
        {
            if (!metaVersion.IsInteger || metaVersion.Integer is not (1 or 2))
                throw new MetainfoException($"'meta version' {metaVersion} is not supported (1 or 2)");
            hasV2 = metaVersion.Integer == 2;
        }
        var pieces = info["pieces"u8];
        bool hasV1 = pieces.Exists;
        if (!hasV1 && !hasV2) throw new MetainfoException("missing 'info.pieces'");

        var paths = new PathBudget();
        List<TorrentFile>? v1Files = null;
        bool multiFile = false;
        long total = 0;
        if (hasV1)
        {
            if (!pieces.IsString) throw new MetainfoException("'info.pieces' is not a string");
            if (pieces.Bytes.Length % InfoHash.Length != 0)
                throw new MetainfoException($"'pieces' is {pieces.Bytes.Length} bytes, not a multiple of 20");
            v1Files = ReadV1Files(info, name, paths, out multiFile, out total);
        }
        List<TorrentFile>? v2Files = null;
        if (hasV2)
        {
            v2Files = ReadFileTree(info, name, pieceLength, hasV1 ? new PathBudget() : paths, out bool v2MultiFile);
            ReadPieceLayers(root, v2Files, pieceLength);
            if (!hasV1) multiFile = v2MultiFile;
        }

        List<TorrentFile> files;
        if (v1Files is not null && v2Files is not null) files = MatchHybrid(v1Files, v2Files, multiFile, name, pieceLength);
        else if (v1Files is not null) files = v1Files;
        else files = AlignV2(v2Files!, pieceLength, out total);

        if (total == 0) throw new MetainfoException("the torrent holds no data (total length 0)");
        long expectedPieces = (total + pieceLength - 1) / pieceLength;
        int pieceCount = (int)expectedPieces;
        if (hasV1)
        {
            pieceCount = pieces.Bytes.Length / InfoHash.Length;
            if (pieceCount != expectedPieces)
                throw new MetainfoException($"{pieceCount} piece hashes for {total} bytes at piece length {pieceLength} (expected {expectedPieces})");
        }
        else if (expectedPieces > int.MaxValue)
        {
            throw new MetainfoException($"{expectedPieces} pieces is more than a torrent can index");
        }

        byte[]? v2Hash = hasV2 ? SHA256.HashData(info.RawSpan) : null;
        var v1Hash = hasV1 ? InfoHash.Compute(info.RawSpan) : default;
        InfoHash? truncated = v2Hash is null ? null : new InfoHash(v2Hash.AsSpan(0, InfoHash.Length));
        return new TorrentMetainfo
        {
            InfoHash = hasV1 ? v1Hash : truncated!.Value,
            InfoHashV2 = v2Hash,
            Format = hasV1 && hasV2 ? TorrentFormat.Hybrid : hasV2 ? TorrentFormat.V2 : TorrentFormat.V1,
            InfoBytes = info.RawMemory,
            Name = name,
            PieceLength = (int)pieceLength,
            PieceCount = pieceCount,
            PieceHashes = hasV1 ? pieces.BytesMemory : ReadOnlyMemory<byte>.Empty,
            TotalLength = total,
            IsMultiFile = multiFile,
            IsPrivate = info["private"u8] is { IsInteger: true } p && p.Integer == 1,
            Files = files,
            AnnounceTiers = ReadTrackers(root),
            Comment = OptionalString(root, "comment"u8),
            CreatedBy = OptionalString(root, "created by"u8),
            CreationDate = root["creation date"u8] is { IsInteger: true } date ? date.Integer : null,
            WebSeeds = ReadWebSeeds(root),
        };
    }

    private static List<TorrentFile> ReadV1Files(BencodeNode info, string name, PathBudget paths, out bool multiFile, out long total)
    {
        var files = new List<TorrentFile>();
        total = 0;
        var length = info["length"u8];
        var fileList = info["files"u8];
        if (length.Exists && fileList.Exists) throw new MetainfoException("'info' has both 'length' and 'files'");
        if (length.IsInteger)
        {
            multiFile = false;
            total = length.Integer;
            if (total < 0) throw new MetainfoException($"negative length {total}");
            if (total > MaxTotalLength) throw new MetainfoException($"length {total} is larger than {MaxTotalLength} bytes");
            files.Add(new TorrentFile([name], total, 0) { Attributes = ReadAttributes(info, "the torrent") });
            return files;
        }
        if (!fileList.IsList) throw new MetainfoException("'info' has neither 'length' nor a 'files' list");
        multiFile = true;
        var tree = new PathTree();
        int index = 0;
        foreach (var entry in fileList.Items)
        {
            if (++index > MaxFiles) throw new MetainfoException($"more than {MaxFiles} files");
            if (!entry.IsDictionary) throw new MetainfoException($"file #{index} is not a dictionary");
            long fileLength = RequireInteger(entry, "length"u8, $"file #{index} length");
            if (fileLength < 0) throw new MetainfoException($"file #{index} has negative length {fileLength}");
            var pathNode = entry["path"u8];
            if (!pathNode.IsList) throw new MetainfoException($"file #{index} has no 'path' list");
            var segments = new List<string>();
            foreach (var segment in pathNode.Items)
            {
                if (!segment.IsString) throw new MetainfoException($"file #{index} path has a non-string component");
                if (segments.Count == MaxPathDepth) throw new MetainfoException($"file #{index} path is deeper than {MaxPathDepth} folders");
                string text = segment.Utf8;
                ValidateSegment(text, $"file #{index} path");
                segments.Add(text);
            }
            if (segments.Count == 0) throw new MetainfoException($"file #{index} has an empty path");
            var attributes = ReadAttributes(entry, $"file #{index}");
            var file = new TorrentFile(segments, fileLength, total) { Attributes = attributes };
            paths.Add(file.Path, index);
            // BEP 47: pad files share names like .pad/16384 and never reach the disk, so only real files claim their path.
            if (!file.IsPad) tree.Add(segments, file.Path);
            files.Add(file);
            if (fileLength > MaxTotalLength - total)
                throw new MetainfoException($"files add up to more than {MaxTotalLength} bytes (at file #{index})");
            total += fileLength;
        }
        if (files.Count == 0) throw new MetainfoException("'files' is empty");
        return files;
    }

    /// <summary>BEP 52 <c>file tree</c>: nested dictionaries of names; a file is a dictionary holding only the key "".</summary>
    private static List<TorrentFile> ReadFileTree(BencodeNode info, string name, long pieceLength, PathBudget paths, out bool multiFile)
    {
        var tree = info["file tree"u8];
        if (!tree.IsDictionary) throw new MetainfoException("missing 'info.file tree' dictionary");
        var files = new List<TorrentFile>();
        var prefix = new List<string>();
        ReadTreeNode(tree, prefix, files, paths, pieceLength);
        if (files.Count == 0) throw new MetainfoException("'file tree' is empty");
        // A single-file v2 torrent is a tree of one file named like the torrent.
        multiFile = !(files.Count == 1 && files[0].PathSegments.Count == 1 && files[0].PathSegments[0] == name);
        return files;
    }

    private static void ReadTreeNode(BencodeNode node, List<string> prefix, List<TorrentFile> files, PathBudget paths, long pieceLength)
    {
        if (node.Count == 0) throw new MetainfoException($"'file tree' folder '{string.Join('/', prefix)}' is empty");
        foreach (var entry in node.Entries)
        {
            if (!entry.Value.IsDictionary) throw new MetainfoException($"'file tree' entry under '{string.Join('/', prefix)}' is not a dictionary");
            if (entry.Key.IsEmpty)
            {
                if (prefix.Count == 0 || node.Count != 1)
                    throw new MetainfoException($"'file tree' node '{string.Join('/', prefix)}' is both a file and a folder");
                files.Add(ReadTreeFile(entry.Value, prefix, files.Count + 1, paths, pieceLength));
                continue;
            }
            if (prefix.Count == MaxPathDepth) throw new MetainfoException($"'file tree' is deeper than {MaxPathDepth} folders");
            string segment = entry.KeyNode.Utf8;
            ValidateSegment(segment, "'file tree' path");
            prefix.Add(segment);
            ReadTreeNode(entry.Value, prefix, files, paths, pieceLength);
            prefix.RemoveAt(prefix.Count - 1);
        }
    }

    private static TorrentFile ReadTreeFile(BencodeNode leaf, List<string> prefix, int index, PathBudget paths, long pieceLength)
    {
        if (index > MaxFiles) throw new MetainfoException($"more than {MaxFiles} files");
        var file = new TorrentFile([.. prefix], 0, 0);
        paths.Add(file.Path, index);
        long length = RequireInteger(leaf, "length"u8, $"'{file.Path}' length");
        if (length < 0 || length > MaxTotalLength) throw new MetainfoException($"'{file.Path}' has length {length}");
        var attributes = ReadAttributes(leaf, $"'{file.Path}'");
        if ((attributes & TorrentFileAttributes.Pad) != 0) throw new MetainfoException($"'{file.Path}' is a pad file inside 'file tree'");
        var root = leaf["pieces root"u8];
        if (length > 0 && !(root.IsString && root.Bytes.Length == MerkleTree.HashLength))
            throw new MetainfoException($"'{file.Path}' has no 32-byte 'pieces root'");
        if ((length + pieceLength - 1) / pieceLength > int.MaxValue) throw new MetainfoException($"'{file.Path}' has too many pieces");
        return file with { Length = length, Attributes = attributes, PiecesRoot = length > 0 ? root.BytesMemory : default };
    }

    /// <summary>
    /// BEP 52 <c>piece layers</c> sit outside the info dictionary, so the info-hash does not vouch for them: each layer is
    /// checked against its file's pieces root before we serve it to anyone.
    /// </summary>
    private static void ReadPieceLayers(BencodeNode root, List<TorrentFile> files, long pieceLength)
    {
        if (!files.Any(f => f.Length > pieceLength)) return;
        var layers = root["piece layers"u8];
        if (!layers.IsDictionary) throw new MetainfoException("missing 'piece layers' for files longer than a piece");
        var byRoot = new Dictionary<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal);
        foreach (var entry in layers.Entries)
        {
            if (entry.Key.Length != MerkleTree.HashLength || !entry.Value.IsString) throw new MetainfoException("'piece layers' has an entry that is not a 32-byte root and a string");
            byRoot[Convert.ToHexString(entry.Key)] = entry.Value.BytesMemory;
        }
        long leavesPerPiece = pieceLength / MerkleTree.BlockSize;
        int pieceLayer = BitOperations.Log2((ulong)leavesPerPiece);
        var verified = new HashSet<string>(StringComparer.Ordinal);
        byte[]? scratch = null;
        Span<byte> computed = stackalloc byte[MerkleTree.HashLength];
        for (int i = 0; i < files.Count; i++)
        {
            var file = files[i];
            if (file.Length <= pieceLength) continue;
            string key = Convert.ToHexString(file.PiecesRoot.Span);
            if (!byRoot.TryGetValue(key, out var layer)) throw new MetainfoException($"'piece layers' has no entry for '{file.Path}'");
            long filePieces = (file.Length + pieceLength - 1) / pieceLength;
            if (layer.Length != filePieces * MerkleTree.HashLength)
                throw new MetainfoException($"'piece layers' for '{file.Path}' is {layer.Length} bytes, expected {filePieces * MerkleTree.HashLength}");
            if (verified.Add(key))
            {
                int needed = (int)((filePieces + 1) / 2 * MerkleTree.HashLength);
                if (scratch is null || scratch.Length < needed) scratch = new byte[needed];
                MerkleTree.Root(layer.Span, MerkleTree.Width(filePieces), pieceLayer, scratch, computed);
                if (!computed.SequenceEqual(file.PiecesRoot.Span))
                    throw new MetainfoException($"'piece layers' for '{file.Path}' do not match its pieces root");
            }
            files[i] = file with { PieceLayer = layer };
        }
    }

    /// <summary>A hybrid's v1 file list (minus pad files) must be its v2 file tree, in order, with every file starting a piece.</summary>
    private static List<TorrentFile> MatchHybrid(List<TorrentFile> v1Files, List<TorrentFile> v2Files, bool multiFile, string name, long pieceLength)
    {
        int next = 0;
        for (int i = 0; i < v1Files.Count; i++)
        {
            var file = v1Files[i];
            if (file.IsPad) continue;
            if (next == v2Files.Count) throw new MetainfoException($"hybrid torrent: '{file.Path}' is in 'files' but not in 'file tree'");
            var v2 = v2Files[next++];
            bool samePath = multiFile
                ? file.PathSegments.SequenceEqual(v2.PathSegments, StringComparer.Ordinal)
                : v2.PathSegments is [var only] && only == name;
            if (!samePath || file.Length != v2.Length)
                throw new MetainfoException($"hybrid torrent: 'files' and 'file tree' disagree at '{file.Path}'");
            if (file.Length > 0 && file.Offset % pieceLength != 0)
                throw new MetainfoException($"hybrid torrent: '{file.Path}' does not start on a piece boundary");
            v1Files[i] = file with { PiecesRoot = v2.PiecesRoot, PieceLayer = v2.PieceLayer };
        }
        if (next != v2Files.Count) throw new MetainfoException($"hybrid torrent: '{v2Files[next].Path}' is in 'file tree' but not in 'files'");
        return v1Files;
    }

    /// <summary>A v2 torrent's piece space: every file starts and ends on a piece boundary, the gaps are implied zeros (pad files).</summary>
    private static List<TorrentFile> AlignV2(List<TorrentFile> v2Files, long pieceLength, out long total)
    {
        var files = new List<TorrentFile>(v2Files.Count * 2);
        total = 0;
        for (int i = 0; i < v2Files.Count; i++)
        {
            var file = v2Files[i];
            long gap = (pieceLength - total % pieceLength) % pieceLength;
            if (file.Length > 0 && gap > 0)
            {
                files.Add(new TorrentFile([".pad", gap.ToString(CultureInfo.InvariantCulture)], gap, total) { Attributes = TorrentFileAttributes.Pad });
                total += gap;
            }
            if (file.Length > MaxTotalLength - total) throw new MetainfoException($"files add up to more than {MaxTotalLength} bytes (at '{file.Path}')");
            files.Add(file with { Offset = total });
            total += file.Length;
        }
        // The last piece is whole too: libtorrent counts it so and asks for whole 16 KiB blocks past the file's end.
        long tail = (pieceLength - total % pieceLength) % pieceLength;
        if (tail > 0)
        {
            files.Add(new TorrentFile([".pad", tail.ToString(CultureInfo.InvariantCulture)], tail, total) { Attributes = TorrentFileAttributes.Pad });
            total += tail;
        }
        return files;
    }

    private static TorrentFileAttributes ReadAttributes(BencodeNode entry, string what)
    {
        var attr = entry["attr"u8];
        if (!attr.Exists) return TorrentFileAttributes.None;
        if (!attr.IsString) throw new MetainfoException($"{what} has a non-string 'attr'");
        var result = TorrentFileAttributes.None;
        foreach (byte letter in attr.Bytes)
        {
            switch (letter)
            {
                case (byte)'p': result |= TorrentFileAttributes.Pad; break;
                case (byte)'x': result |= TorrentFileAttributes.Executable; break;
                case (byte)'h': result |= TorrentFileAttributes.Hidden; break;
                case (byte)'l': throw new MetainfoException($"{what} is a symlink (attr 'l'); symlinks are not seeded");
                default: break; // BEP 47: unknown attributes are ignored
            }
        }
        return result;
    }

    /// <summary>
    /// BEP 52: where piece <paramref name="piece"/> sits in its file's merkle tree: the bytes of file data in it, the leaf
    /// count its subtree is padded to, and the hash it must have. False for a piece no v2 file covers.
    /// </summary>
    public bool TryGetV2Piece(int piece, out int dataLength, out long leafWidth, out ReadOnlySpan<byte> expected)
    {
        dataLength = 0;
        leafWidth = 0;
        expected = default;
        var starts = _v2Starts ??= BuildV2Starts();
        int slot = Array.BinarySearch(starts.Pieces, piece);
        if (slot < 0) slot = ~slot - 1;
        if (slot < 0) return false;
        var file = Files[starts.Files[slot]];
        long local = piece - starts.Pieces[slot];
        long filePieces = (file.Length + PieceLength - 1) / PieceLength;
        if (local >= filePieces) return false;
        dataLength = (int)Math.Min(PieceLength, file.Length - local * PieceLength);
        if (file.Length <= PieceLength)
        {
            leafWidth = MerkleTree.Width(MerkleTree.LeafCount(file.Length));
            expected = file.PiecesRoot.Span;
        }
        else
        {
            leafWidth = PieceLength / MerkleTree.BlockSize;
            expected = file.PieceLayer.Span.Slice((int)local * MerkleTree.HashLength, MerkleTree.HashLength);
        }
        return true;
    }

    private V2Starts? _v2Starts;

    private sealed record V2Starts(int[] Pieces, int[] Files);

    private V2Starts BuildV2Starts()
    {
        var pieces = new List<int>();
        var files = new List<int>();
        for (int i = 0; i < Files.Count; i++)
        {
            var file = Files[i];
            if (file.IsPad || file.PiecesRoot.IsEmpty) continue;
            pieces.Add((int)(file.Offset / PieceLength));
            files.Add(i);
        }
        return new V2Starts([.. pieces], [.. files]);
    }

    /// <summary>
    /// Files and folders by name, one node per path component, so a clash between a file and a folder of the same name is
    /// found in time linear in the total path length (building every prefix string was quadratic).
    /// </summary>
    private sealed class PathTree
    {
        private readonly Dictionary<(int Parent, string Name), int> _nodes = [];
        private readonly List<bool> _isFile = [false];

        public void Add(IReadOnlyList<string> segments, string path)
        {
            int node = 0;
            for (int i = 0; i < segments.Count; i++)
            {
                bool last = i == segments.Count - 1;
                if (_nodes.TryGetValue((node, segments[i]), out int child))
                {
                    if (last) throw new MetainfoException(_isFile[child] ? $"file path '{path}' appears twice" : $"'{path}' is both a file and a folder");
                    if (_isFile[child]) throw new MetainfoException($"'{string.Join('/', segments.Take(i + 1))}' is both a file and a folder");
                }
                else
                {
                    child = _isFile.Count;
                    _isFile.Add(last);
                    _nodes.Add((node, segments[i]), child);
                }
                node = child;
            }
        }
    }

    /// <summary>Caps on what the paths of one torrent may cost: bytes per path and in total.</summary>
    private sealed class PathBudget
    {
        private long _total;

        public void Add(string path, int index)
        {
            int bytes = System.Text.Encoding.UTF8.GetByteCount(path);
            if (bytes > MaxPathBytes) throw new MetainfoException($"file #{index} path is longer than {MaxPathBytes} bytes");
            _total += bytes;
            if (_total > MaxTotalPathBytes) throw new MetainfoException($"the file paths add up to more than {MaxTotalPathBytes} bytes");
        }
    }

    /// <summary>
    /// A path component is one file or folder name: not empty, not '.' or '..', no separator or NUL inside.
    /// This is what keeps a hostile torrent from writing or reading outside its folder.
    /// </summary>
    public static void ValidateSegment(string segment, string what)
    {
        if (segment.Length == 0) throw new MetainfoException($"{what} has an empty component");
        if (segment is "." or "..") throw new MetainfoException($"{what} has a '{segment}' component");
        if (segment.AsSpan().IndexOfAny('/', '\\', '\0') >= 0)
            throw new MetainfoException($"{what} component '{segment.Replace("\0", "\\0", StringComparison.Ordinal)}' contains a path separator or NUL");
        if (System.Text.Encoding.UTF8.GetByteCount(segment) > MaxPathSegmentBytes)
            throw new MetainfoException($"{what} component is longer than {MaxPathSegmentBytes} bytes");
    }

    private static IReadOnlyList<IReadOnlyList<string>> ReadTrackers(BencodeNode root)
    {
        var tiers = new List<IReadOnlyList<string>>();
        if (root["announce-list"u8] is { IsList: true } list)
        {
            foreach (var tier in list.Items)
            {
                if (!tier.IsList) continue;
                var urls = new List<string>();
                foreach (var url in tier.Items)
                {
                    if (url.IsString && url.Bytes.Length > 0) urls.Add(url.Utf8);
                }
                if (urls.Count > 0) tiers.Add(urls);
            }
        }
        // BEP 12: when announce-list is present, announce is ignored.
        if (tiers.Count == 0 && OptionalString(root, "announce"u8) is { Length: > 0 } announce) tiers.Add([announce]);
        return tiers;
    }

    /// <summary>BEP 19: a lone URL or a list of them; entries that are not non-empty strings are skipped.</summary>
    private static IReadOnlyList<string> ReadWebSeeds(BencodeNode root)
    {
        var node = root["url-list"u8];
        if (node.IsString) return node.Bytes.Length > 0 ? [node.Utf8] : [];
        if (!node.IsList) return [];
        var urls = new List<string>();
        foreach (var url in node.Items)
        {
            if (url.IsString && url.Bytes.Length > 0) urls.Add(url.Utf8);
        }
        return urls;
    }

    private static string RequireString(BencodeNode dictionary, ReadOnlySpan<byte> key, string what)
    {
        var node = dictionary[key];
        return node.IsString ? node.Utf8 : throw new MetainfoException($"missing or non-string '{what}'");
    }

    private static long RequireInteger(BencodeNode dictionary, ReadOnlySpan<byte> key, string what)
    {
        var node = dictionary[key];
        return node.IsInteger ? node.Integer : throw new MetainfoException($"missing or non-integer '{what}'");
    }

    private static string? OptionalString(BencodeNode dictionary, ReadOnlySpan<byte> key) =>
        dictionary[key] is { IsString: true } node ? node.Utf8 : null;
}

/// <summary>Which BitTorrent versions a torrent's info dictionary describes.</summary>
public enum TorrentFormat : byte
{
    V1,
    V2,
    Hybrid,
}
