using System.Net;
using Appliance.Protocol.Metainfo;
using Appliance.Seeding;
using Appliance.Seeding.Sessions;
using Appliance.Seeding.Torrents;
using Appliance.Storage;
using Appliance.Storage.Creation;
using Appliance.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.LoadGen.Tests;

/// <summary>
/// LoadGen against a real seeding server on 127.0.0.1 serving a hybrid torrent (BEP 52) with pad files (BEP 47), as
/// <c>appliance create --format hybrid</c> makes it: joined by either info-hash, every piece (file bytes and pad zeros)
/// is checked against its v1 SHA-1, and a byte changed on disk is caught.
/// </summary>
public sealed class HybridLoadPeerTests : IAsyncLifetime
{
    private const int PieceLength = 64 * 1024;
    private const int Peers = 2;

    private readonly TempDirectory _temp = new("loadgen-hybrid");
    private string _folder = "";
    private TorrentMetainfo _torrent = null!;
    private PieceStore _store = null!;
    private SeedingServer _server = null!;
    private readonly SeedingCounters _counters = new();
    private IPEndPoint _endPoint = null!;

    public async Task InitializeAsync()
    {
        string content = _temp.CreateSubdirectory("content");
        // Files ending mid-piece (so pad files follow them), an empty one, and nested folders: about 60 pieces.
        _folder = SampleContent.WriteMultiFile(content, scale: 8);
        (_, _torrent) = await TorrentCreator.CreateAsync(_folder, new CreateOptions { PieceLength = PieceLength, Format = TorrentFormat.Hybrid },
            null, CancellationToken.None);
        Assert.Equal(TorrentFormat.Hybrid, _torrent.Format);
        Assert.True(_torrent.Files.Count(f => f.IsPad) >= 2, "the torrent has too few pad files to test");
        var opened = await StorageOpener.OpenAsync(_torrent, content, _temp.Combine("state"), StorageKind.Mapped, null, CancellationToken.None);
        Assert.True(opened.Store is not null, opened.RefusedReason);
        _store = opened.Store!;
        var registry = new TorrentRegistry();
        registry.TryAdd(new SeededTorrent(_torrent, _store));
        _server = new SeedingServer(new SeedingOptions { ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), UploadSlots = Peers },
            registry, _counters, NullLogger.Instance);
        _endPoint = _server.Start();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _store.Dispose();
        _temp.Dispose();
    }

    [Theory]
    [InlineData(JoinKind.V2)]
    [InlineData(JoinKind.V1)]
    public async Task Every_piece_of_a_hybrid_torrent_with_pad_files_is_downloaded_and_verified_by_either_info_hash(JoinKind join)
    {
        // The seeder tells the doors apart: a silent connection shows which info-hash LoadGen's handshake carried.
        using (var idle = new LoadPeer(_torrent, new LoadRun(), 1, 64 * 1024, 0, join: join))
        {
            using var stop = new CancellationTokenSource(Leechers.Bound);
            await idle.ConnectAsync(_endPoint, source: null, soRcvBuf: 0, stop.Token);
            var loop = Task.Run(() => idle.RunAsync(interested: false, stop.Token));
            Assert.Equal(1, await Eventually.SettledAsync(1L, () => _counters.Read(join == JoinKind.V2 ? SeedingCounter.PeersJoinedV2 : SeedingCounter.PeersJoinedV1)));
            Assert.Equal(0, _counters.Read(join != JoinKind.V2 ? SeedingCounter.PeersJoinedV2 : SeedingCounter.PeersJoinedV1));
            Assert.True(await Eventually.SettledAsync(true, () => idle.Handshaken), "the seeder's handshake did not echo our info-hash");
            await stop.CancelAsync();
            idle.Close();
            await loop;
        }

        var peers = await Leechers.DownloadAsync(_torrent, _endPoint, Peers, copy: null, piecesEach: _torrent.PieceCount, join: join, once: true);

        // Each connection walks every piece once from its own start: all of them hashed, none failed.
        Assert.All(peers, p =>
        {
            Assert.Null(p.Failure);
            Assert.True(p.IsComplete);
            Assert.Equal(0, p.ChokesReceived);
            Assert.Equal(0, p.VerifyFailures);
            Assert.Equal(0, p.UnexpectedBlocks);
            Assert.Equal(_torrent.PieceCount, p.PiecesVerified);
            Assert.Equal(_torrent.PieceCount, p.PiecesHashed);
        });
        Assert.Equal(1 + Peers, _counters.Read(SeedingCounter.HandshakesAccepted));
    }

    [Fact]
    public async Task A_changed_byte_before_a_pad_file_fails_its_piece_for_a_peer_joined_by_the_v2_hash()
    {
        // The last byte of the first file shares its piece with the pad zeros that follow it.
        var first = _torrent.Files.First(f => !f.IsPad && f.Length > 0);
        int next = _torrent.Files.ToList().IndexOf(first) + 1;
        Assert.True(_torrent.Files[next].IsPad, "the first file is not followed by a pad file");
        string path = Path.Combine([_folder, .. first.PathSegments]);
        await using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = first.Length - 1;
            int b = stream.ReadByte();
            stream.Position = first.Length - 1;
            stream.WriteByte((byte)(b ^ 0x20));
        }

        var peers = await Leechers.DownloadAsync(_torrent, _endPoint, Peers, copy: null, piecesEach: _torrent.PieceCount, join: JoinKind.V2, once: true);

        // One pass over every piece each: exactly the changed piece fails.
        Assert.All(peers, p =>
        {
            Assert.Null(p.Failure);
            Assert.Equal(1, p.VerifyFailures);
            Assert.Equal(_torrent.PieceCount - 1, p.PiecesVerified);
        });
    }

    [Fact]
    public async Task A_v1_torrent_cannot_be_joined_by_a_v2_hash_and_a_v2_only_torrent_is_refused()
    {
        string file = SampleContent.WriteFile(_temp.Combine("other", "one.bin"), 100_000);
        var (_, v1) = await TorrentCreator.CreateAsync(file, new CreateOptions { PieceLength = PieceLength }, null, CancellationToken.None);
        var (_, v2) = await TorrentCreator.CreateAsync(file, new CreateOptions { PieceLength = PieceLength, Format = TorrentFormat.V2 }, null, CancellationToken.None);

        Assert.Equal(v1.InfoHash, LoadPeer.HandshakeHash(v1, JoinKind.V1));
        Assert.Contains("hybrid", Assert.Throws<ArgumentException>(() => LoadPeer.HandshakeHash(v1, JoinKind.V2)).Message, StringComparison.Ordinal);
        Assert.Contains("v2-only", Assert.Throws<ArgumentException>(() => LoadPeer.HandshakeHash(v2, JoinKind.V2)).Message, StringComparison.Ordinal);
    }
}
