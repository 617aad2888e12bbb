using Appliance.Protocol.Bencode;

namespace Appliance.Protocol.Metainfo;

/// <summary>What a new .torrent says: the layout and hashes plus the optional top-level fields.</summary>
public sealed record MetainfoDraft(
    string Name,
    int PieceLength,
    ReadOnlyMemory<byte> PieceHashes,
    IReadOnlyList<TorrentFile> Files,
    bool IsMultiFile)
{
    public IReadOnlyList<IReadOnlyList<string>> AnnounceTiers { get; init; } = [];
    public bool IsPrivate { get; init; }
    public string? Comment { get; init; }
    public string? CreatedBy { get; init; }
    public long? CreationDate { get; init; }

    /// <summary>BEP 19 web seeds (<c>url-list</c>, outside the info dictionary): a string when one, a list when several, as mktorrent and libtorrent write it.</summary>
    public IReadOnlyList<string> WebSeeds { get; init; } = [];

    /// <summary>Hybrid and v2 drafts carry each file's pieces root and piece layer (BEP 52); v2 drafts have no pad files.</summary>
    public TorrentFormat Format { get; init; } = TorrentFormat.V1;
}

/// <summary>
/// Encodes a <see cref="MetainfoDraft"/> canonically (sorted keys), so equal content gives an equal info-hash: v1 as
/// mktorrent writes it, hybrid and v2 as libtorrent's creator does.
/// </summary>
public static class MetainfoWriter
{
    public static byte[] Encode(MetainfoDraft draft)
    {
        byte[] info = EncodeInfo(draft);
        var layers = PieceLayers(draft);
        int size = info.Length + 1024 + draft.AnnounceTiers.Sum(t => t.Sum(u => u.Length * 4 + 16)) +
                   (draft.Comment?.Length ?? 0) * 4 + (draft.CreatedBy?.Length ?? 0) * 4 + layers.Sum(l => l.PieceLayer.Length + 64) +
                   draft.WebSeeds.Sum(u => u.Length * 4 + 16);
        var buffer = new byte[size];
        var writer = new BencodeWriter(buffer);
        writer.WriteDictionaryStart();
        if (draft.AnnounceTiers.Count > 0)
        {
            writer.WriteKey("announce"u8);
            writer.WriteString(draft.AnnounceTiers[0][0]);
            if (draft.AnnounceTiers.Sum(t => t.Count) > 1)
            {
                writer.WriteKey("announce-list"u8);
                writer.WriteListStart();
                foreach (var tier in draft.AnnounceTiers)
                {
                    writer.WriteListStart();
                    foreach (var url in tier) writer.WriteString(url);
                    writer.WriteEnd();
                }
                writer.WriteEnd();
            }
        }
        if (draft.Comment is not null) { writer.WriteKey("comment"u8); writer.WriteString(draft.Comment); }
        if (draft.CreatedBy is not null) { writer.WriteKey("created by"u8); writer.WriteString(draft.CreatedBy); }
        if (draft.CreationDate is { } date) { writer.WriteKey("creation date"u8); writer.WriteInteger(date); }
        writer.WriteKey("info"u8);
        writer.WriteRaw(info);
        if (draft.Format != TorrentFormat.V1)
        {
            writer.WriteKey("piece layers"u8);
            writer.WriteDictionaryStart();
            foreach (var file in layers)
            {
                writer.WriteKey(file.PiecesRoot.Span);
                writer.WriteString(file.PieceLayer.Span);
            }
            writer.WriteEnd();
        }
        if (draft.WebSeeds.Count > 0)
        {
            writer.WriteKey("url-list"u8);
            if (draft.WebSeeds.Count == 1)
            {
                writer.WriteString(draft.WebSeeds[0]);
            }
            else
            {
                writer.WriteListStart();
                foreach (var url in draft.WebSeeds) writer.WriteString(url);
                writer.WriteEnd();
            }
        }
        writer.WriteEnd();
        return writer.Written.ToArray();
    }

    // One entry per distinct root (identical files share one), in key order.
    private static List<TorrentFile> PieceLayers(MetainfoDraft draft) =>
        draft.Files.Where(f => !f.PieceLayer.IsEmpty)
            .GroupBy(f => Convert.ToHexString(f.PiecesRoot.Span), StringComparer.Ordinal).Select(g => g.First())
            .OrderBy(f => f.PiecesRoot.ToArray(), Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b)))
            .ToList();

    public static byte[] EncodeInfo(MetainfoDraft draft)
    {
        int size = draft.PieceHashes.Length + 256 + draft.Name.Length * 4 +
                   draft.Files.Sum(f => 2 * (96 + f.PathSegments.Sum(s => s.Length * 4 + 12)));
        var buffer = new byte[size];
        var writer = new BencodeWriter(buffer);
        bool v1 = draft.Format != TorrentFormat.V2;
        bool v2 = draft.Format != TorrentFormat.V1;
        writer.WriteDictionaryStart();
        if (v2)
        {
            writer.WriteKey("file tree"u8);
            var real = draft.Files.Where(f => !f.IsPad).ToList();
            WriteTree(ref writer, real, 0, real.Count, 0);
        }
        if (v1 && draft.IsMultiFile)
        {
            writer.WriteKey("files"u8);
            writer.WriteListStart();
            foreach (var file in draft.Files)
            {
                writer.WriteDictionaryStart();
                WriteAttributes(ref writer, file.Attributes);
                writer.WriteKey("length"u8);
                writer.WriteInteger(file.Length);
                writer.WriteKey("path"u8);
                writer.WriteListStart();
                foreach (var segment in file.PathSegments) writer.WriteString(segment);
                writer.WriteEnd();
                writer.WriteEnd();
            }
            writer.WriteEnd();
        }
        else if (v1)
        {
            writer.WriteKey("length"u8);
            writer.WriteInteger(draft.Files[0].Length);
        }
        if (v2)
        {
            writer.WriteKey("meta version"u8);
            writer.WriteInteger(2);
        }
        writer.WriteKey("name"u8);
        writer.WriteString(draft.Name);
        writer.WriteKey("piece length"u8);
        writer.WriteInteger(draft.PieceLength);
        if (v1)
        {
            writer.WriteKey("pieces"u8);
            writer.WriteString(draft.PieceHashes.Span);
        }
        if (draft.IsPrivate)
        {
            writer.WriteKey("private"u8);
            writer.WriteInteger(1);
        }
        writer.WriteEnd();
        return writer.Written.ToArray();
    }

    /// <summary>BEP 52 file tree: one dictionary level per path component; a file is {"": {attr, length, pieces root}}.</summary>
    private static void WriteTree(ref BencodeWriter writer, List<TorrentFile> files, int start, int end, int depth)
    {
        writer.WriteDictionaryStart();
        int i = start;
        while (i < end)
        {
            string segment = files[i].PathSegments[depth];
            int j = i + 1;
            while (j < end && files[j].PathSegments.Count > depth && files[j].PathSegments[depth] == segment) j++;
            writer.WriteKey(segment);
            if (files[i].PathSegments.Count == depth + 1)
            {
                var file = files[i];
                writer.WriteDictionaryStart();
                writer.WriteKey(""u8);
                writer.WriteDictionaryStart();
                WriteAttributes(ref writer, file.Attributes);
                writer.WriteKey("length"u8);
                writer.WriteInteger(file.Length);
                if (file.Length > 0)
                {
                    writer.WriteKey("pieces root"u8);
                    writer.WriteString(file.PiecesRoot.Span);
                }
                writer.WriteEnd();
                writer.WriteEnd();
            }
            else
            {
                WriteTree(ref writer, files, i, j, depth + 1);
            }
            i = j;
        }
        writer.WriteEnd();
    }

    private static void WriteAttributes(ref BencodeWriter writer, TorrentFileAttributes attributes)
    {
        if (attributes == TorrentFileAttributes.None) return;
        Span<byte> letters = stackalloc byte[3];
        int count = 0;
        if ((attributes & TorrentFileAttributes.Pad) != 0) letters[count++] = (byte)'p';
        if ((attributes & TorrentFileAttributes.Hidden) != 0) letters[count++] = (byte)'h';
        if ((attributes & TorrentFileAttributes.Executable) != 0) letters[count++] = (byte)'x';
        writer.WriteKey("attr"u8);
        writer.WriteString(letters[..count]);
    }
}
