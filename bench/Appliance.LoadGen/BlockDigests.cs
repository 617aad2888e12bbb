using System.Buffers.Binary;
using System.Security.Cryptography;
using Appliance.Protocol.Metainfo;

namespace Appliance.LoadGen;

/// <summary>
/// A CRC-32C of every 16 KiB block of a torrent's content (<c>--reference-digests</c>), made before the run by
/// <c>--make-digests</c> from content whose SHA-1 piece hashes it checks first. During the run each received block is
/// checked against its digest instead of being hashed: the crc32 instruction does several GB/s per core where SHA-1 does
/// under 2, the table costs 4 bytes per block (1 MiB for 4 GiB; <c>--reference-file</c> holds the whole content, up to
/// 1 GiB), and the content is not read during the run, so a cold-cache test that drops the page cache does not have the
/// client refill it. A CRC-32C over a block catches every error burst up to 32 bits and lets other damage through with
/// odds of 2^-32 per block: enough to catch a seeder serving wrong bytes (another block, another offset, a torn read),
/// not a defence against a peer forging data, which a benchmark does not face.
/// </summary>
public sealed class BlockDigests
{
    private const int BlockLength = LoadOptions.BlockLength;
    private const uint FormatVersion = 1;
    // Header, little-endian: magic, format version, block length, v1 info-hash, piece length, piece count, total length,
    // block count. Then one u32 per block in content order; piece lengths being powers of two of at least 16 KiB, only
    // the torrent's last block may be short.
    private const int HeaderLength = 8 + 4 + 4 + InfoHash.Length + 4 + 4 + 8 + 4;
    // 2^28 blocks: 4 TiB of content, a 1 GiB table.
    private const long MaxBlocks = 1L << 28;

    private static ReadOnlySpan<byte> Magic => "LGBLKCRC"u8;

    private readonly uint[] _digests;
    private readonly int _blocksPerPiece;

    private BlockDigests(uint[] digests, int blocksPerPiece)
    {
        _digests = digests;
        _blocksPerPiece = blocksPerPiece;
    }

    public int BlockCount => _digests.Length;

    /// <summary>True when <paramref name="block"/>, received at <paramref name="begin"/> of <paramref name="piece"/>, is the content's.</summary>
    public bool Matches(int piece, int begin, ReadOnlySpan<byte> block) =>
        Crc32C.Compute(block) == _digests[piece * _blocksPerPiece + begin / BlockLength];

    /// <summary>
    /// Reads the content (a single-file torrent's file) once, checks every piece against the torrent's SHA-1 and keeps a
    /// digest per block. Returns null with a reason when the file is not this torrent's content.
    /// </summary>
    public static BlockDigests? FromContent(string path, TorrentMetainfo torrent, out string? error)
    {
        if (!TryCountBlocks(torrent, out var blocksPerPiece, out var blockCount, out error)) return null;
        long length = new FileInfo(path).Length;
        if (length != torrent.TotalLength) { error = $"{path} has {length} bytes, the torrent {torrent.TotalLength}"; return null; }

        var digests = new uint[blockCount];
        int bad = -1, shortRead = -1;
        using (var file = File.OpenHandle(path))
        {
            Parallel.For(0, torrent.PieceCount, () => (Bytes: new byte[torrent.PieceLength], Hash: new byte[InfoHash.Length]), (piece, _, buffer) =>
            {
                var size = torrent.PieceSize(piece);
                var bytes = buffer.Bytes.AsSpan(0, size);
                long at = (long)piece * torrent.PieceLength;
                for (var read = 0; read < size;)
                {
                    var n = RandomAccess.Read(file, bytes[read..], at + read);
                    if (n <= 0) { Interlocked.CompareExchange(ref shortRead, piece, -1); return buffer; }
                    read += n;
                }
                SHA1.HashData(bytes, buffer.Hash);
                if (!buffer.Hash.AsSpan().SequenceEqual(torrent.PieceHash(piece))) Interlocked.CompareExchange(ref bad, piece, -1);
                for (var begin = 0; begin < size; begin += BlockLength)
                    digests[piece * blocksPerPiece + begin / BlockLength] = Crc32C.Compute(bytes.Slice(begin, Math.Min(BlockLength, size - begin)));
                return buffer;
            }, _ => { });
        }
        if (shortRead >= 0) { error = $"{path} ended early (piece {shortRead})"; return null; }
        if (bad >= 0) { error = $"piece {bad} of {path} does not match the torrent's hash"; return null; }
        return new BlockDigests(digests, blocksPerPiece);
    }

    /// <summary>Writes the table with a header naming the torrent (through a temporary file, so a stopped run leaves none half-written).</summary>
    public void Save(string path, TorrentMetainfo torrent)
    {
        var bytes = new byte[HeaderLength + 4L * _digests.Length];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], BlockLength);
        torrent.InfoHash.CopyTo(span.Slice(16, InfoHash.Length));
        BinaryPrimitives.WriteInt32LittleEndian(span[36..], torrent.PieceLength);
        BinaryPrimitives.WriteInt32LittleEndian(span[40..], torrent.PieceCount);
        BinaryPrimitives.WriteInt64LittleEndian(span[44..], torrent.TotalLength);
        BinaryPrimitives.WriteInt32LittleEndian(span[52..], _digests.Length);
        for (var i = 0; i < _digests.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(span[(HeaderLength + 4 * i)..], _digests[i]);
        var temporary = path + ".tmp";
        File.WriteAllBytes(temporary, bytes);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Loads a table written by <see cref="Save"/>; null with a reason when it is not one, or is another torrent's.</summary>
    public static BlockDigests? Load(string path, TorrentMetainfo torrent, out string? error)
    {
        if (!TryCountBlocks(torrent, out var blocksPerPiece, out var blockCount, out error)) return null;
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"{path}: {e.Message}";
            return null;
        }
        var span = bytes.AsSpan();
        if (span.Length < HeaderLength || !span[..8].SequenceEqual(Magic))
        {
            error = $"{path} is not a LoadGen digest file (write one with --make-digests)";
            return null;
        }
        var version = BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);
        var blockLength = BinaryPrimitives.ReadInt32LittleEndian(span[12..]);
        if (version != FormatVersion || blockLength != BlockLength)
        {
            error = $"{path} is digest format {version} over {blockLength}-byte blocks; this LoadGen reads format {FormatVersion} over {BlockLength}-byte blocks";
            return null;
        }
        var madeFor = new InfoHash(span.Slice(16, InfoHash.Length));
        if (madeFor != torrent.InfoHash)
        {
            error = $"{path} was made for another torrent (info-hash {madeFor}, this one is {torrent.InfoHash}): write it again with --make-digests";
            return null;
        }
        if (BinaryPrimitives.ReadInt32LittleEndian(span[36..]) != torrent.PieceLength || BinaryPrimitives.ReadInt32LittleEndian(span[40..]) != torrent.PieceCount
            || BinaryPrimitives.ReadInt64LittleEndian(span[44..]) != torrent.TotalLength || BinaryPrimitives.ReadInt32LittleEndian(span[52..]) != blockCount
            || span.Length != HeaderLength + 4L * blockCount)
        {
            error = $"{path} does not have {blockCount} block digests for this torrent's {torrent.TotalLength} bytes (damaged or cut short)";
            return null;
        }
        var digests = new uint[blockCount];
        for (var i = 0; i < digests.Length; i++) digests[i] = BinaryPrimitives.ReadUInt32LittleEndian(span[(HeaderLength + 4 * i)..]);
        return new BlockDigests(digests, blocksPerPiece);
    }

    // Blocks sit on the grid LoadGen requests: 16 KiB steps from the start of each piece (so of the content).
    private static bool TryCountBlocks(TorrentMetainfo torrent, out int blocksPerPiece, out int blockCount, out string? error)
    {
        error = null;
        blocksPerPiece = (torrent.PieceLength + BlockLength - 1) / BlockLength;
        blockCount = 0;
        if (!torrent.HasV1) { error = "a v2-only torrent has no SHA-1 piece hashes"; return false; }
        var count = (long)(torrent.PieceCount - 1) * blocksPerPiece + (torrent.PieceSize(torrent.PieceCount - 1) + BlockLength - 1) / BlockLength;
        if (count > MaxBlocks) { error = $"a torrent of {count} blocks is more than a digest table holds ({MaxBlocks})"; return false; }
        blockCount = (int)count;
        return true;
    }
}
