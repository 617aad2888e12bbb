using Appliance.Storage;
using Appliance.Storage.Creation;
using BenchmarkDotNet.Attributes;

namespace Appliance.Benchmarks.Storage;

/// <summary>
/// One 16 KiB block from a multi-file torrent whose files are in the page cache: zero-copy segments from the
/// mapped store (must be 0 B/op) against positional reads into a buffer from either store; and the same content as a
/// hybrid torrent, whose pad files (BEP 47) come as segments of the shared zero page (also 0 B/op).
/// </summary>
[MemoryDiagnoser]
public class BlockReadBenchmarks
{
    private const int Block = 16 * 1024;
    private string _folder = "";
    private PieceStore _mapped = null!;
    private PieceStore _pread = null!;
    private PieceStore _hybrid = null!;
    private int _hybridPieceCount;
    private readonly BlockSegment[] _segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
    private readonly byte[] _buffer = new byte[Block];
    private int _pieceCount;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), $"bench-storage-{Guid.NewGuid():N}");
        string content = Path.Combine(_folder, "content", "sample");
        var random = new Random(1);
        // 32 MiB over files of uneven sizes, so some blocks cross file boundaries.
        long[] sizes = [5_000_001, 777, 12_345_678, 0, 15_203_000];
        for (int i = 0; i < sizes.Length; i++)
        {
            var bytes = new byte[sizes[i]];
            random.NextBytes(bytes);
            Directory.CreateDirectory(content);
            File.WriteAllBytes(Path.Combine(content, $"file-{i}.bin"), bytes);
        }
        var (_, metainfo) = TorrentCreator.CreateAsync(content, new CreateOptions { PieceLength = 256 * 1024 }, null, CancellationToken.None).GetAwaiter().GetResult();
        _pieceCount = metainfo.PieceCount - 1; // whole pieces only
        string state = Path.Combine(_folder, "state");
        _mapped = StorageOpener.OpenAsync(metainfo, Path.Combine(_folder, "content"), state, StorageKind.Mapped, null, CancellationToken.None).GetAwaiter().GetResult().Store!;
        _pread = StorageOpener.OpenAsync(metainfo, Path.Combine(_folder, "content"), state, StorageKind.Pread, null, CancellationToken.None).GetAwaiter().GetResult().Store!;
        var (_, hybrid) = TorrentCreator.CreateAsync(content, new CreateOptions { PieceLength = 256 * 1024, Format = Appliance.Protocol.Metainfo.TorrentFormat.Hybrid },
            null, CancellationToken.None).GetAwaiter().GetResult();
        _hybridPieceCount = hybrid.PieceCount - 1;
        _hybrid = StorageOpener.OpenAsync(hybrid, Path.Combine(_folder, "content"), state, StorageKind.Mapped, null, CancellationToken.None).GetAwaiter().GetResult().Store!;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _mapped.Dispose();
        _pread.Dispose();
        _hybrid.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private (int Piece, int Begin) NextBlock()
    {
        int n = _next++;
        return (n % _pieceCount, n / _pieceCount % 16 * Block);
    }

    [Benchmark(Baseline = true)]
    public int MappedTryGetSegments()
    {
        var (piece, begin) = NextBlock();
        _mapped.TryGetSegments(piece, begin, Block, _segments, out int count);
        return count;
    }

    [Benchmark]
    public bool PreadTryReadBlock()
    {
        var (piece, begin) = NextBlock();
        return _pread.TryReadBlock(piece, begin, _buffer);
    }

    [Benchmark]
    public bool MappedStoreTryReadBlock()
    {
        var (piece, begin) = NextBlock();
        return _mapped.TryReadBlock(piece, begin, _buffer);
    }

    [Benchmark]
    public int HybridMappedTryGetSegments()
    {
        int n = _next++;
        _hybrid.TryGetSegments(n % _hybridPieceCount, n / _hybridPieceCount % 16 * Block, Block, _segments, out int count);
        return count;
    }
}
