using System.Security.Cryptography;
using Appliance.Protocol.Metainfo;
using Appliance.Storage;
using Appliance.Storage.Creation;

namespace Appliance.Benchmarks.PeerWire;

/// <summary>A real torrent in a temp folder, opened with the real storage (mapped or pread), for the send-path benchmarks.</summary>
internal sealed class BenchTorrent : IDisposable
{
    public const int PieceLength = 256 * 1024;

    private BenchTorrent(string folder, TorrentMetainfo metainfo, PieceStore store)
    {
        Folder = folder;
        Metainfo = metainfo;
        Store = store;
    }

    public string Folder { get; }
    public TorrentMetainfo Metainfo { get; }
    public PieceStore Store { get; }

    public static BenchTorrent Create(StorageKind kind, int size = 16 * 1024 * 1024)
    {
        string folder = Path.Combine(Path.GetTempPath(), "appliance-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var data = new byte[size];
        new Random(3).NextBytes(data);
        File.WriteAllBytes(Path.Combine(folder, "data.bin"), data);
        var hashes = new List<byte>();
        for (int offset = 0; offset < size; offset += PieceLength)
            hashes.AddRange(SHA1.HashData(data.AsSpan(offset, Math.Min(PieceLength, size - offset))));
        var bytes = MetainfoWriter.Encode(new MetainfoDraft("data.bin", PieceLength, hashes.ToArray(), [new TorrentFile(["data.bin"], size, 0)], IsMultiFile: false));
        var metainfo = TorrentMetainfo.Parse(bytes);
        var opened = StorageOpener.OpenAsync(metainfo, folder, Path.Combine(folder, ".state"), kind, null, CancellationToken.None).GetAwaiter().GetResult();
        return new BenchTorrent(folder, metainfo, opened.Store ?? throw new InvalidOperationException(opened.RefusedReason));
    }

    /// <summary>
    /// A hybrid or v2-only torrent (BEP 52) as <c>appliance create --format hybrid|v2</c> makes it, from files that end
    /// mid-piece: piece 0 is a 100,001-byte file and then zeros (a hybrid's BEP 47 pad file, a v2 torrent's implied
    /// alignment), so its blocks are file segments, zero-page segments or both.
    /// </summary>
    public static BenchTorrent CreateV2(StorageKind kind, TorrentFormat format, int size = 16 * 1024 * 1024)
    {
        string folder = Path.Combine(Path.GetTempPath(), "appliance-bench-" + Guid.NewGuid().ToString("N"));
        string content = Path.Combine(folder, "hybrid");
        Directory.CreateDirectory(content);
        var random = new Random(3);
        int[] sizes = [100_001, 300_007, size - 400_008];
        for (int i = 0; i < sizes.Length; i++)
        {
            var data = new byte[sizes[i]];
            random.NextBytes(data);
            File.WriteAllBytes(Path.Combine(content, $"file-{i}.bin"), data);
        }
        var (_, metainfo) = TorrentCreator.CreateAsync(content, new CreateOptions { PieceLength = PieceLength, Format = format }, null,
            CancellationToken.None).GetAwaiter().GetResult();
        var opened = StorageOpener.OpenAsync(metainfo, folder, Path.Combine(folder, ".state"), kind, null, CancellationToken.None).GetAwaiter().GetResult();
        return new BenchTorrent(folder, metainfo, opened.Store ?? throw new InvalidOperationException(opened.RefusedReason));
    }

    public void Dispose()
    {
        Store.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}
