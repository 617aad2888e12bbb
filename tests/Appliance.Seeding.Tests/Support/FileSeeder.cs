using System.Net;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Sessions;
using Appliance.Seeding.Torrents;
using Appliance.Storage;
using Appliance.Storage.Creation;
using Appliance.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Seeding.Tests.Support;

/// <summary>
/// A <see cref="SeedingServer"/> on 127.0.0.1:0 seeding content from real files through the real store (verified by
/// <see cref="StorageOpener"/>): for torrent formats and layouts the in-memory store does not model (v2, pad files).
/// </summary>
internal sealed class FileSeeder : IAsyncDisposable
{
    private readonly TempDirectory _temp;

    private FileSeeder(string? tempParent) => _temp = new("file-seeder", tempParent);

    public TorrentMetainfo Metainfo { get; private set; } = null!;
    public PieceStore Store { get; private set; } = null!;
    public SeedingServer Server { get; private set; } = null!;
    public SeedingCounters Counters { get; } = new();
    public IPEndPoint EndPoint { get; private set; } = null!;

    /// <summary>The folder the content was written to (content/data/... for several files, content/NAME for one).</summary>
    public string ContentPath => _temp.Combine("content");

    /// <summary>The content's files by relative path, for expected bytes.</summary>
    public Dictionary<string, byte[]> Files { get; } = [];

    public static async Task<FileSeeder> StartAsync(IReadOnlyList<(string Path, int Size)> files, TorrentFormat format, int pieceLength,
        StorageKind storage = StorageKind.Mapped, SeedingOptions? options = null, Storage.Pool.FilePool? pool = null, string? tempParent = null)
    {
        var seeder = new FileSeeder(tempParent);
        string content = seeder._temp.CreateSubdirectory("content");
        string root = Path.Combine(content, "data");
        int seed = 3;
        foreach (var (path, size) in files)
        {
            string full = SampleContent.WriteFile(Path.Combine(root, path), size, seed++);
            seeder.Files[path] = await File.ReadAllBytesAsync(full);
        }
        string source = files.Count == 1 && !files[0].Path.Contains('/', StringComparison.Ordinal) ? Path.Combine(root, files[0].Path) : root;
        if (source != root)
        {
            File.Move(source, Path.Combine(content, files[0].Path));
            source = Path.Combine(content, files[0].Path);
        }
        var (_, metainfo) = await TorrentCreator.CreateAsync(source, new CreateOptions { PieceLength = pieceLength, Format = format }, null, CancellationToken.None);
        var opened = await StorageOpener.OpenAsync(metainfo, content, seeder._temp.CreateSubdirectory("state"), storage, null, CancellationToken.None, pool);
        Assert.True(opened.Store is not null, opened.RefusedReason);
        seeder.Metainfo = metainfo;
        seeder.Store = opened.Store!;
        var registry = new TorrentRegistry();
        registry.TryAdd(new SeededTorrent(metainfo, opened.Store!));
        seeder.Server = new SeedingServer(TestTcpEngine.Apply(options ?? new SeedingOptions()) with { ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0) },
            registry, seeder.Counters, NullLogger.Instance);
        seeder.EndPoint = seeder.Server.Start();
        return seeder;
    }

    public async Task<FakePeer> ConnectAsync(InfoHash? infoHash = null) => (await HandshakeAsync(infoHash)).Peer;

    /// <summary>Connects and handshakes; returns the seeder's handshake too.</summary>
    public async Task<(FakePeer Peer, Handshake Reply)> HandshakeAsync(InfoHash? infoHash = null)
    {
        var peer = await FakePeer.ConnectAsync(EndPoint);
        await peer.SendHandshakeAsync(infoHash ?? Metainfo.InfoHash, fast: true, extensions: false);
        var handshake = await peer.ReadHandshakeAsync();
        Assert.Equal(infoHash ?? Metainfo.InfoHash, handshake.InfoHash);
        return (peer, handshake);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Store.Dispose();
        _temp.Dispose();
    }
}
