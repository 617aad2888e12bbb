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
}

/// <summary>Makes a .torrent from a file or folder: lists the files (mktorrent's order), hashes pieces in parallel with positional reads, encodes.</summary>
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

        var layout = FileLayout.ForFiles(content.Select(f => (f.FullPath, f.RelativePath, f.Length)).ToList(), pieceLength);
        byte[] digests;
        using (var files = FileHandles.Open(layout))
        {
            var hashed = await PieceHasher.HashAsync(files, null, progress, ct).ConfigureAwait(false);
            if (hashed.ReadErrors.Count > 0)
                throw new IOException($"{hashed.ReadErrors.OrderBy(e => e.Key).First().Value} (the content changed while hashing)");
            digests = hashed.Digests;
        }

        var torrentFiles = layout.Files.Select(f => new TorrentFile(f.RelativePath.Split('/'), f.Length, f.Offset)).ToList();
        var draft = new MetainfoDraft(name, pieceLength, digests, torrentFiles, multiFile)
        {
            AnnounceTiers = options.AnnounceTiers,
            IsPrivate = options.IsPrivate,
            Comment = options.Comment,
            CreatedBy = options.CreatedBy,
            CreationDate = options.CreationDate?.ToUnixTimeSeconds(),
        };
        byte[] torrent = MetainfoWriter.Encode(draft);
        // Parse what we wrote: the same validation every consumer applies (safe paths, sizes, piece count).
        return (torrent, TorrentMetainfo.Parse(torrent));
    }
}
