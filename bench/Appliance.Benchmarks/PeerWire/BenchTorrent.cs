using System.Security.Cryptography;
using Appliance.Protocol.Metainfo;
using Appliance.Storage;

namespace Appliance.Benchmarks.PeerWire;

/// <summary>A real single-file torrent in a temp folder, opened with the real storage (mapped or pread), for the send-path benchmarks.</summary>
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

    public void Dispose()
    {
        Store.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}
