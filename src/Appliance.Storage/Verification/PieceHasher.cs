using System.Buffers;
using System.Security.Cryptography;
using Appliance.Protocol.Metainfo;
using Appliance.Storage.Files;

namespace Appliance.Storage.Verification;

/// <summary>
/// SHA-1 of pieces and, for v2 torrents, each piece's SHA-256 merkle subtree root (BEP 52), in parallel across cores,
/// read with positional reads (never through a mapping, so a file truncated while we hash gives a read error for that
/// piece, not SIGBUS). One read of a piece serves both hashes of a hybrid torrent.
/// </summary>
public static class PieceHasher
{
    /// <summary>Result of hashing: digests of the pieces asked for (20 bytes each at piece * 20) and the read errors.</summary>
    public sealed class Result(byte[] digests, byte[]? digestsV2 = null)
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<int, string> _errors = new();

        /// <summary>Digests indexed by piece (pieces not hashed, or not readable, stay all zero).</summary>
        public byte[] Digests { get; } = digests;

        public IReadOnlyDictionary<int, string> ReadErrors => _errors;

        internal void AddError(int piece, string error) => _errors.TryAdd(piece, error);

        public ReadOnlySpan<byte> Digest(int piece) => Digests.AsSpan(piece * 20, 20);

        /// <summary>The v2 root of a piece's blocks (32 bytes; all zero when not hashed or not v2).</summary>
        public ReadOnlySpan<byte> DigestV2(int piece) => digestsV2 is null ? default : digestsV2.AsSpan(piece * MerkleTree.HashLength, MerkleTree.HashLength);

        internal Span<byte> DigestV2Slot(int piece) => digestsV2.AsSpan(piece * MerkleTree.HashLength, MerkleTree.HashLength);
    }

    /// <summary>
    /// Hashes <paramref name="pieces"/> (all pieces when null), reporting progress as a fraction of bytes done. With
    /// <paramref name="v2Shape"/>, also the merkle subtree root of every piece it gives a shape for: the file bytes in the
    /// piece and the leaf count the subtree is padded to (BEP 52).
    /// </summary>
    public static async Task<Result> HashAsync(FileHandles files, IReadOnlyList<int>? pieces, IProgress<double>? progress,
        CancellationToken ct, int? maxParallelism = null, Func<int, (int DataLength, long Width)?>? v2Shape = null)
    {
        var layout = files.Layout;
        var result = new Result(new byte[layout.PieceCount * 20], v2Shape is null ? null : new byte[(long)layout.PieceCount * MerkleTree.HashLength]);
        IReadOnlyList<int> work = pieces ?? Enumerable.Range(0, layout.PieceCount).ToArray();
        if (work.Count == 0)
        {
            progress?.Report(1.0);
            return result;
        }
        long totalBytes = 0;
        foreach (int piece in work) totalBytes += layout.PieceSize(piece);
        long doneBytes = 0;
        int lastReported = -1;
        var options = new ParallelOptions
        {
            CancellationToken = ct,
            MaxDegreeOfParallelism = maxParallelism ?? Environment.ProcessorCount,
        };
        // A torrent of a few small pieces is hashed on the caller's thread: a first start of many tiny torrents then loads
        // each on one thread, never handing it to the pool and back (the loader already runs one torrent per core).
        if (totalBytes <= InlineBytes)
        {
            for (int i = 0; i < work.Count; i++)
            {
                ct.ThrowIfCancellationRequested();
                HashOne(i);
            }
            return result;
        }
        await Parallel.ForAsync(0, work.Count, options, (i, _) =>
        {
            HashOne(i);
            return ValueTask.CompletedTask;
        }).ConfigureAwait(false);
        return result;

        void HashOne(int i)
        {
            int piece = work[i];
            int size = layout.PieceSize(piece);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(size);
            try
            {
                string? error = files.Read(layout.PieceOffset(piece), buffer.AsSpan(0, size));
                if (error is not null) result.AddError(piece, error);
                else
                {
                    SHA1.HashData(buffer.AsSpan(0, size), result.Digests.AsSpan(piece * 20, 20));
                    if (v2Shape?.Invoke(piece) is var (dataLength, width))
                        SubtreeRoot(buffer.AsSpan(0, dataLength), width, result.DigestV2Slot(piece));
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            if (progress is not null)
            {
                long done = Interlocked.Add(ref doneBytes, size);
                // At most ~200 reports however many pieces there are.
                int step = (int)(done * 200 / totalBytes);
                int seen = Volatile.Read(ref lastReported);
                if (step > seen && Interlocked.CompareExchange(ref lastReported, step, seen) == seen)
                    progress.Report((double)done / totalBytes);
            }
        }
    }

    /// <summary>At most this many bytes to hash are read on the caller's thread (about a millisecond of SHA-1).</summary>
    private const long InlineBytes = 1024 * 1024;

    /// <summary>BEP 52: SHA-256 of each 16 KiB block (the last may be short), padded with zero leaves to <paramref name="width"/>.</summary>
    private static void SubtreeRoot(ReadOnlySpan<byte> data, long width, Span<byte> root)
    {
        int leaves = MerkleTree.LeafCount(data.Length);
        byte[] hashes = ArrayPool<byte>.Shared.Rent(leaves * MerkleTree.HashLength * 2);
        try
        {
            for (int i = 0; i < leaves; i++)
            {
                var block = data.Slice(i * MerkleTree.BlockSize, Math.Min(MerkleTree.BlockSize, data.Length - i * MerkleTree.BlockSize));
                SHA256.HashData(block, hashes.AsSpan(i * MerkleTree.HashLength, MerkleTree.HashLength));
            }
            int used = leaves * MerkleTree.HashLength;
            MerkleTree.Root(hashes.AsSpan(0, used), width, 0, hashes.AsSpan(used), root);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(hashes);
        }
    }
}
