using System.Numerics;
using Appliance.Protocol.Bencode;

namespace Appliance.Protocol.Metainfo;

/// <summary>
/// A parsed and validated v1 .torrent. Everything a seeder needs: the info-hash over the exact info bytes,
/// the file layout, piece hashes, and trackers. Parsing refuses anything unsafe to seed, with a reason.
/// </summary>
public sealed class TorrentMetainfo
{
    public const int MinPieceLength = 16 * 1024;
    public const int MaxPieceLength = 64 * 1024 * 1024;
    public const int MaxFiles = 1_000_000;
    public const int MaxPathSegmentBytes = 255;

    /// <summary>1 PiB: far beyond any real torrent, and small enough that sums and offsets never overflow.</summary>
    public const long MaxTotalLength = 1L << 50;

    private TorrentMetainfo() { }

    public required InfoHash InfoHash { get; init; }
    public required string Name { get; init; }
    public required int PieceLength { get; init; }
    public required int PieceCount { get; init; }
    public required long TotalLength { get; init; }
    public required bool IsMultiFile { get; init; }
    public required bool IsPrivate { get; init; }
    public required IReadOnlyList<TorrentFile> Files { get; init; }

    /// <summary>All piece hashes, 20 bytes each.</summary>
    public required ReadOnlyMemory<byte> PieceHashes { get; init; }

    /// <summary>The exact encoded info dictionary (served to magnet-link peers, BEP 9).</summary>
    public required ReadOnlyMemory<byte> InfoBytes { get; init; }

    /// <summary>Tracker tiers (BEP 12); a lone <c>announce</c> becomes one tier of one URL.</summary>
    public required IReadOnlyList<IReadOnlyList<string>> AnnounceTiers { get; init; }

    public string? Comment { get; init; }
    public string? CreatedBy { get; init; }
    public long? CreationDate { get; init; }

    public IEnumerable<string> Trackers => AnnounceTiers.SelectMany(t => t);

    public int PieceSize(int index)
    {
        if ((uint)index >= (uint)PieceCount) throw new ArgumentOutOfRangeException(nameof(index));
        return index == PieceCount - 1 ? (int)(TotalLength - (long)index * PieceLength) : PieceLength;
    }

    public ReadOnlySpan<byte> PieceHash(int index) => PieceHashes.Span.Slice(index * InfoHash.Length, InfoHash.Length);

    public string MagnetLink(IEnumerable<string>? extraTrackers = null) =>
        Metainfo.MagnetLink.Format(InfoHash, Name, Trackers.Concat(extraTrackers ?? []).Distinct());

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

        var pieces = info["pieces"u8];
        if (!pieces.IsString) throw new MetainfoException("missing 'info.pieces'");
        if (pieces.Bytes.Length % InfoHash.Length != 0)
            throw new MetainfoException($"'pieces' is {pieces.Bytes.Length} bytes, not a multiple of 20");

        var files = new List<TorrentFile>();
        long total = 0;
        var length = info["length"u8];
        var fileList = info["files"u8];
        bool multiFile;
        if (length.Exists && fileList.Exists) throw new MetainfoException("'info' has both 'length' and 'files'");
        if (length.IsInteger)
        {
            multiFile = false;
            total = length.Integer;
            if (total < 0) throw new MetainfoException($"negative length {total}");
            if (total > MaxTotalLength) throw new MetainfoException($"length {total} is larger than {MaxTotalLength} bytes");
            files.Add(new TorrentFile([name], total, 0));
        }
        else if (fileList.IsList)
        {
            multiFile = true;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var directories = new HashSet<string>(StringComparer.Ordinal);
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
                    string text = segment.Utf8;
                    ValidateSegment(text, $"file #{index} path");
                    segments.Add(text);
                }
                if (segments.Count == 0) throw new MetainfoException($"file #{index} has an empty path");
                var file = new TorrentFile(segments, fileLength, total);
                if (!seen.Add(file.Path)) throw new MetainfoException($"file path '{file.Path}' appears twice");
                for (int i = 1; i < segments.Count; i++) directories.Add(string.Join('/', segments.Take(i)));
                files.Add(file);
                if (fileLength > MaxTotalLength - total)
                    throw new MetainfoException($"files add up to more than {MaxTotalLength} bytes (at file #{index})");
                total += fileLength;
            }
            if (files.Count == 0) throw new MetainfoException("'files' is empty");
            foreach (var file in files)
            {
                if (directories.Contains(file.Path))
                    throw new MetainfoException($"'{file.Path}' is both a file and a folder");
            }
        }
        else
        {
            throw new MetainfoException("'info' has neither 'length' nor a 'files' list");
        }

        if (total == 0) throw new MetainfoException("the torrent holds no data (total length 0)");
        long expectedPieces = (total + pieceLength - 1) / pieceLength;
        int pieceCount = pieces.Bytes.Length / InfoHash.Length;
        if (pieceCount != expectedPieces)
            throw new MetainfoException($"{pieceCount} piece hashes for {total} bytes at piece length {pieceLength} (expected {expectedPieces})");

        return new TorrentMetainfo
        {
            InfoHash = InfoHash.Compute(info.RawSpan),
            InfoBytes = info.RawMemory,
            Name = name,
            PieceLength = (int)pieceLength,
            PieceCount = pieceCount,
            PieceHashes = pieces.BytesMemory,
            TotalLength = total,
            IsMultiFile = multiFile,
            IsPrivate = info["private"u8] is { IsInteger: true } p && p.Integer == 1,
            Files = files,
            AnnounceTiers = ReadTrackers(root),
            Comment = OptionalString(root, "comment"u8),
            CreatedBy = OptionalString(root, "created by"u8),
            CreationDate = root["creation date"u8] is { IsInteger: true } date ? date.Integer : null,
        };
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
