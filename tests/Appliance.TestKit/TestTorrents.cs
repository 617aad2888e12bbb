using System.Security.Cryptography;
using Appliance.Protocol.Metainfo;

namespace Appliance.TestKit;

/// <summary>
/// Builds .torrent files for tests with a plain sequential hasher, independent of the product's creator
/// (so tests of the creator are not checking it against itself).
/// </summary>
public static class TestTorrents
{
    public static (byte[] Bytes, TorrentMetainfo Metainfo) Create(string path, int pieceLength = 32 * 1024,
        IReadOnlyList<string>? trackers = null, bool isPrivate = false)
    {
        bool multi = Directory.Exists(path);
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
        var files = new List<TorrentFile>();
        long offset = 0;
        var sources = new List<string>();
        if (multi)
        {
            foreach (var file in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                         .Select(f => Path.GetRelativePath(path, f).Replace('\\', '/'))
                         .Order(StringComparer.Ordinal))
            {
                long length = new FileInfo(Path.Combine(path, file)).Length;
                files.Add(new TorrentFile(file.Split('/'), length, offset));
                sources.Add(Path.Combine(path, file));
                offset += length;
            }
        }
        else
        {
            long length = new FileInfo(path).Length;
            files.Add(new TorrentFile([name], length, 0));
            sources.Add(path);
            offset = length;
        }

        using var hashes = new MemoryStream();
        var piece = new byte[pieceLength];
        int filled = 0;
        foreach (var source in sources)
        {
            using var stream = File.OpenRead(source);
            int n;
            while ((n = stream.Read(piece, filled, pieceLength - filled)) > 0)
            {
                filled += n;
                if (filled == pieceLength)
                {
                    hashes.Write(SHA1.HashData(piece));
                    filled = 0;
                }
            }
        }
        if (filled > 0) hashes.Write(SHA1.HashData(piece.AsSpan(0, filled)));

        var draft = new MetainfoDraft(name, pieceLength, hashes.ToArray(), files, multi)
        {
            AnnounceTiers = trackers is { Count: > 0 } ? trackers.Select(t => (IReadOnlyList<string>)[t]).ToList() : [],
            IsPrivate = isPrivate,
            CreatedBy = "Appliance.TestKit",
        };
        byte[] bytes = MetainfoWriter.Encode(draft);
        return (bytes, TorrentMetainfo.Parse(bytes));
    }

    /// <summary>Creates the torrent and writes it to <paramref name="torrentPath"/>.</summary>
    public static TorrentMetainfo Write(string contentPath, string torrentPath, int pieceLength = 32 * 1024,
        IReadOnlyList<string>? trackers = null)
    {
        var (bytes, metainfo) = Create(contentPath, pieceLength, trackers);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(torrentPath))!);
        File.WriteAllBytes(torrentPath, bytes);
        return metainfo;
    }
}
