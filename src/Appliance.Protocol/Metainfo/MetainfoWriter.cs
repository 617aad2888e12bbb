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
}

/// <summary>Encodes a <see cref="MetainfoDraft"/> canonically (sorted keys), so equal content gives an equal info-hash.</summary>
public static class MetainfoWriter
{
    public static byte[] Encode(MetainfoDraft draft)
    {
        byte[] info = EncodeInfo(draft);
        int size = info.Length + 1024 + draft.AnnounceTiers.Sum(t => t.Sum(u => u.Length * 4 + 16)) +
                   (draft.Comment?.Length ?? 0) * 4 + (draft.CreatedBy?.Length ?? 0) * 4;
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
        writer.WriteEnd();
        return writer.Written.ToArray();
    }

    public static byte[] EncodeInfo(MetainfoDraft draft)
    {
        int size = draft.PieceHashes.Length + 256 + draft.Name.Length * 4 +
                   draft.Files.Sum(f => 64 + f.PathSegments.Sum(s => s.Length * 4 + 12));
        var buffer = new byte[size];
        var writer = new BencodeWriter(buffer);
        writer.WriteDictionaryStart();
        if (draft.IsMultiFile)
        {
            writer.WriteKey("files"u8);
            writer.WriteListStart();
            foreach (var file in draft.Files)
            {
                writer.WriteDictionaryStart();
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
        else
        {
            writer.WriteKey("length"u8);
            writer.WriteInteger(draft.Files[0].Length);
        }
        writer.WriteKey("name"u8);
        writer.WriteString(draft.Name);
        writer.WriteKey("piece length"u8);
        writer.WriteInteger(draft.PieceLength);
        writer.WriteKey("pieces"u8);
        writer.WriteString(draft.PieceHashes.Span);
        if (draft.IsPrivate)
        {
            writer.WriteKey("private"u8);
            writer.WriteInteger(1);
        }
        writer.WriteEnd();
        return writer.Written.ToArray();
    }
}
