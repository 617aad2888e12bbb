using Appliance.Protocol.Bencode;
using Appliance.Protocol.Metainfo;
using Appliance.Storage.Files;

namespace Appliance.Storage.Resume;

/// <summary>
/// Fast-resume record of one torrent: which pieces were verified, and each file's size and mtime at the time.
/// Bencoded: d 8:checksum 20:.. 5:files l (d 5:mtime i..e 4:size i..e e)... e 9:info-hash 20:.. 12:piece length i..e
/// 6:pieces &lt;bitfield, BEP 3 order&gt; 7:version i2e e. The checksum is SHA-1 of the same dictionary without
/// its checksum entry: a damaged bit in the bitfield must never make an unverified piece count as verified.
/// </summary>
public sealed record ResumeState(InfoHash InfoHash, int PieceLength, int PieceCount, byte[] Verified, IReadOnlyList<FileStamp> Files)
{
    public const int Version = 2;
    private const int ChecksumLength = 20;

    /// <summary>Upper bound on a resume file we agree to read (a million files at ~40 bytes, plus the bitfield).</summary>
    public const int MaxBytes = 64 * 1024 * 1024;

    public static byte[] NewBitfield(int pieceCount) => new byte[(pieceCount + 7) / 8];

    public bool IsVerified(int piece) => (Verified[piece >> 3] & (0x80 >> (piece & 7))) != 0;

    public static void SetVerified(byte[] bitfield, int piece) => bitfield[piece >> 3] |= (byte)(0x80 >> (piece & 7));

    public byte[] Encode()
    {
        byte[] body = EncodeBody();
        Span<byte> checksum = stackalloc byte[ChecksumLength];
        System.Security.Cryptography.SHA1.HashData(body, checksum);
        var result = new byte[body.Length + 14 + ChecksumLength];
        var writer = new BencodeWriter(result);
        writer.WriteDictionaryStart();
        writer.WriteKey("checksum"u8);
        writer.WriteString(checksum);
        writer.WriteRaw(body.AsSpan(1)); // the body's entries and its closing 'e'
        return result[..writer.BytesWritten];
    }

    private byte[] EncodeBody()
    {
        var buffer = new byte[256 + Verified.Length + Files.Count * 64];
        var writer = new BencodeWriter(buffer);
        writer.WriteDictionaryStart();
        writer.WriteKey("files"u8);
        writer.WriteListStart();
        foreach (var file in Files)
        {
            writer.WriteDictionaryStart();
            writer.WriteKey("mtime"u8);
            writer.WriteInteger(file.MtimeNanoseconds);
            writer.WriteKey("size"u8);
            writer.WriteInteger(file.Size);
            writer.WriteEnd();
        }
        writer.WriteEnd();
        writer.WriteKey("info-hash"u8);
        Span<byte> hash = stackalloc byte[InfoHash.Length];
        InfoHash.CopyTo(hash);
        writer.WriteString(hash);
        writer.WriteKey("piece length"u8);
        writer.WriteInteger(PieceLength);
        writer.WriteKey("pieces"u8);
        writer.WriteString(Verified);
        writer.WriteKey("version"u8);
        writer.WriteInteger(Version);
        writer.WriteEnd();
        return writer.Written.ToArray();
    }

    /// <summary>Decodes a resume file and checks it belongs to <paramref name="metainfo"/>; otherwise says why not.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> data, TorrentMetainfo metainfo, out ResumeState? state, out string? reason)
    {
        state = null;
        var limits = BencodeLimits.Default with { MaxStringLength = MaxBytes, MaxTokens = metainfo.Files.Count * 8 + 64 };
        if (!BencodeDocument.TryParse(data, limits, out var document, out var error))
        {
            reason = "not valid bencode: " + error.Describe();
            return false;
        }
        var root = document.Root;
        if (!root.IsDictionary) { reason = "not a dictionary"; return false; }
        if (!ChecksumMatches(data.Span, root)) { reason = "checksum does not match (damaged file)"; return false; }
        if (root["version"u8] is not { IsInteger: true } version || version.Integer != Version) { reason = "unknown version"; return false; }
        if (root["info-hash"u8] is not { IsString: true } hash || hash.Bytes.Length != InfoHash.Length) { reason = "no info-hash"; return false; }
        if (new InfoHash(hash.Bytes) != metainfo.InfoHash) { reason = "it belongs to another torrent"; return false; }
        if (root["piece length"u8] is not { IsInteger: true } pieceLength || pieceLength.Integer != metainfo.PieceLength)
        {
            reason = "piece length differs";
            return false;
        }
        int bitfieldLength = (metainfo.PieceCount + 7) / 8;
        if (root["pieces"u8] is not { IsString: true } pieces || pieces.Bytes.Length != bitfieldLength)
        {
            reason = $"piece bitfield is not {bitfieldLength} bytes";
            return false;
        }
        if (root["files"u8] is not { IsList: true } files) { reason = "no file list"; return false; }
        var stamps = new List<FileStamp>(metainfo.Files.Count);
        foreach (var file in files.Items)
        {
            if (stamps.Count == metainfo.Files.Count) { reason = "more files than the torrent"; return false; }
            if (!file.IsDictionary || file["size"u8] is not { IsInteger: true } size || file["mtime"u8] is not { IsInteger: true } mtime)
            {
                reason = $"file #{stamps.Count + 1} has no size or mtime";
                return false;
            }
            stamps.Add(new FileStamp(size.Integer, mtime.Integer));
        }
        if (stamps.Count != metainfo.Files.Count) { reason = $"{stamps.Count} files, the torrent has {metainfo.Files.Count}"; return false; }
        state = new ResumeState(metainfo.InfoHash, metainfo.PieceLength, metainfo.PieceCount, pieces.Bytes.ToArray(), stamps);
        reason = null;
        return true;
    }

    private static bool ChecksumMatches(ReadOnlySpan<byte> data, BencodeNode root)
    {
        // The checksum entry must be the first one (it sorts first), so the body is 'd' + everything after it.
        if (root["checksum"u8] is not { IsString: true } checksum || checksum.Bytes.Length != ChecksumLength) return false;
        const int entryStart = 1 + 10; // after 'd' and "8:checksum"
        if (checksum.Offset != entryStart) return false;
        int bodyRest = checksum.Offset + checksum.RawSpan.Length;
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA1);
        hash.AppendData("d"u8);
        hash.AppendData(data[bodyRest..]);
        Span<byte> actual = stackalloc byte[ChecksumLength];
        hash.GetHashAndReset(actual);
        return actual.SequenceEqual(checksum.Bytes);
    }
}
