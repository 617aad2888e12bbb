using System.Security.Cryptography;
using Appliance.Protocol.Metainfo;

namespace Appliance.LoadGen;

/// <summary>
/// The run's copy of every piece whose SHA-1 has already matched (the <c>reference</c> verification mode). The first
/// receipt of a piece is hashed as usual and, when its hash matches, published here; every later receipt of that piece,
/// by any connection, is compared byte for byte with this copy. That check is as strict as hashing (stricter: equal
/// bytes, not an equal digest) and costs a memory compare instead of SHA-1, so the client takes less of the CPU it
/// shares with the seeder. Shared by all connections; a piece is written once, before it is marked verified.
/// </summary>
public sealed class VerifiedCopy
{
    private const int Absent = 0;
    private const int Publishing = 1;
    private const int Verified = 2;

    /// <summary>Largest torrent a run keeps a copy of; bigger ones are hashed on every receipt.</summary>
    public const long MaxBytes = 1L << 30;

    private readonly byte[] _bytes;
    private readonly int[] _state;
    private readonly long _pieceLength;

    public VerifiedCopy(long totalLength, long pieceLength, int pieceCount)
    {
        if (totalLength > MaxBytes) throw new ArgumentOutOfRangeException(nameof(totalLength), $"a verified copy holds at most {MaxBytes} bytes");
        _bytes = GC.AllocateUninitializedArray<byte>((int)totalLength);
        _state = new int[pieceCount];
        _pieceLength = pieceLength;
    }

    /// <summary>
    /// A copy filled from the content itself before the run (<c>--reference-file</c>): the file is read and every piece
    /// hashed once, up front, so during the run every block is only compared and the client does no hashing and no
    /// stash copies (at thousands of peers those otherwise take most of its CPU). Returns null with a reason when the file
    /// is not this torrent's content.
    /// </summary>
    public static VerifiedCopy? FromContent(string path, TorrentMetainfo torrent, out string? error)
    {
        error = null;
        if (!torrent.HasV1) { error = "a v2-only torrent has no SHA-1 piece hashes"; return null; }
        long length = new FileInfo(path).Length;
        if (length != torrent.TotalLength) { error = $"{path} has {length} bytes, the torrent {torrent.TotalLength}"; return null; }
        var copy = new VerifiedCopy(torrent.TotalLength, torrent.PieceLength, torrent.PieceCount);
        using (var file = File.OpenHandle(path))
        {
            long at = 0;
            while (at < length)
            {
                int chunk = (int)Math.Min(1 << 30, length - at);
                int read = RandomAccess.Read(file, copy._bytes.AsSpan((int)at, chunk), at);
                if (read <= 0) { error = $"{path} ended early"; return null; }
                at += read;
            }
        }
        int bad = -1;
        Parallel.For(0, torrent.PieceCount, () => new byte[InfoHash.Length], (piece, state, digest) =>
        {
            SHA1.HashData(copy.Slice(piece, 0, torrent.PieceSize(piece)), digest);
            if (digest.AsSpan().SequenceEqual(torrent.PieceHash(piece))) copy._state[piece] = Verified;
            else Interlocked.CompareExchange(ref bad, piece, -1);
            return digest;
        }, _ => { });
        if (bad >= 0) { error = $"piece {bad} of {path} does not match the torrent's hash"; return null; }
        Thread.MemoryBarrier();
        return copy;
    }

    public bool IsVerified(int piece) => Volatile.Read(ref _state[piece]) == Verified;

    /// <summary>The verified bytes of <paramref name="piece"/> from <paramref name="begin"/>; only after <see cref="IsVerified"/>.</summary>
    public ReadOnlySpan<byte> Slice(int piece, int begin, int length) => _bytes.AsSpan((int)(piece * _pieceLength) + begin, length);

    /// <summary>Stores a piece whose SHA-1 matched; the first of concurrent publishers wins, the rest have nothing to do.</summary>
    public void Publish(int piece, ReadOnlySpan<byte> bytes)
    {
        if (Interlocked.CompareExchange(ref _state[piece], Publishing, Absent) != Absent) return;
        bytes.CopyTo(_bytes.AsSpan((int)(piece * _pieceLength), bytes.Length));
        Volatile.Write(ref _state[piece], Verified);
    }
}
