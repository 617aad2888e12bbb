using Appliance.Protocol.Metainfo;
using Appliance.Storage;
using Appliance.Storage.Creation;
using BenchmarkDotNet.Attributes;

namespace Appliance.Benchmarks.Storage;

/// <summary>
/// Restart cost per torrent: opening a 2,000-file torrent from a valid resume file (stat every file, nothing hashed,
/// open and map the files) against verifying it from scratch.
/// </summary>
[MemoryDiagnoser]
public class StorageOpenBenchmarks
{
    private string _folder = "";
    private string _content = "";
    private TorrentMetainfo _metainfo = null!;

    [Params(StorageKind.Mapped, StorageKind.Pread)]
    public StorageKind Kind { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), $"bench-open-{Guid.NewGuid():N}");
        _content = Path.Combine(_folder, "content");
        string root = Path.Combine(_content, "library");
        var random = new Random(3);
        for (int i = 0; i < 2_000; i++)
        {
            var bytes = new byte[random.Next(1, 64 * 1024)];
            random.NextBytes(bytes);
            string path = Path.Combine(root, $"dir-{i / 100:D2}", $"file-{i:D4}.bin");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
        }
        _metainfo = TorrentCreator.CreateAsync(root, new CreateOptions { PieceLength = 64 * 1024 }, null, CancellationToken.None).GetAwaiter().GetResult().Metainfo;
        Open(Path.Combine(_folder, "state-resume"));
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_folder, recursive: true);

    [Benchmark(Baseline = true)]
    public int FromResume() => Open(Path.Combine(_folder, "state-resume"));

    [Benchmark]
    public int FullVerification() => Open(Path.Combine(_folder, $"state-{Guid.NewGuid():N}"));

    private int Open(string state)
    {
        var result = StorageOpener.OpenAsync(_metainfo, _content, state, Kind, null, CancellationToken.None).GetAwaiter().GetResult();
        using var store = result.Store ?? throw new InvalidOperationException(result.RefusedReason);
        return result.PiecesHashed;
    }
}
