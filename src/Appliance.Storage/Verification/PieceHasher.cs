using System.Buffers;
using System.Security.Cryptography;
using Appliance.Storage.Files;

namespace Appliance.Storage.Verification;

/// <summary>
/// SHA-1 of pieces, in parallel across cores, read with positional reads (never through a mapping, so a file
/// truncated while we hash gives a read error for that piece, not SIGBUS).
/// </summary>
public static class PieceHasher
{
    /// <summary>Result of hashing: digests of the pieces asked for (20 bytes each at piece * 20) and the read errors.</summary>
    public sealed class Result(byte[] digests)
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<int, string> _errors = new();

        /// <summary>Digests indexed by piece (pieces not hashed, or not readable, stay all zero).</summary>
        public byte[] Digests { get; } = digests;

        public IReadOnlyDictionary<int, string> ReadErrors => _errors;

        internal void AddError(int piece, string error) => _errors.TryAdd(piece, error);

        public ReadOnlySpan<byte> Digest(int piece) => Digests.AsSpan(piece * 20, 20);
    }

    /// <summary>Hashes <paramref name="pieces"/> (all pieces when null), reporting progress as a fraction of bytes done.</summary>
    public static async Task<Result> HashAsync(FileHandles files, IReadOnlyList<int>? pieces, IProgress<double>? progress,
        CancellationToken ct, int? maxParallelism = null)
    {
        var layout = files.Layout;
        var result = new Result(new byte[layout.PieceCount * 20]);
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
        await Parallel.ForAsync(0, work.Count, options, (i, _) =>
        {
            int piece = work[i];
            int size = layout.PieceSize(piece);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(size);
            try
            {
                string? error = files.Read(layout.PieceOffset(piece), buffer.AsSpan(0, size));
                if (error is null) SHA1.HashData(buffer.AsSpan(0, size), result.Digests.AsSpan(piece * 20, 20));
                else result.AddError(piece, error);
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
            return ValueTask.CompletedTask;
        }).ConfigureAwait(false);
        return result;
    }
}
