using System.Net;
using Appliance.LoadGen;
using Appliance.Networking.Udp;
using Appliance.Networking.Utp;
using Appliance.Protocol.Metainfo;
using Appliance.Seeding;
using Appliance.Seeding.Encryption;
using Appliance.Seeding.Sessions;
using Appliance.Seeding.Torrents;
using Appliance.Storage;
using Appliance.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.LoadGen.Tests;

/// <summary>
/// LoadGen connections against a real seeding server on 127.0.0.1 serving a memory-mapped file (TCP, and uTP on the same
/// port number, as <c>appliance serve</c> runs it): an honest seeder passes every piece, and a byte that changes on disk
/// after its piece was verified is caught by the byte comparison.
/// </summary>
public sealed class LoadPeerTests : IAsyncLifetime
{
    private const int PieceLength = 64 * 1024;
    private const int Peers = 2;
    private static readonly TimeSpan Bound = Leechers.Bound;

    private readonly TempDirectory _temp = new("loadgen-tests");
    private string _file = "";
    private TorrentMetainfo _torrent = null!;
    private SeedingServer _server = null!;
    private IPEndPoint _endPoint = null!;
    private DatagramEndpoint _utpPort = null!;
    private UtpListener _utp = null!;

    public async Task InitializeAsync()
    {
        var content = Directory.CreateDirectory(_temp.Combine("content")).FullName;
        _file = SampleContent.WriteFile(Path.Combine(content, "data.bin"), 2 * 1024 * 1024 + 12_345, seed: 5);
        _torrent = TestTorrents.Create(_file, PieceLength).Metainfo;
        var opened = await StorageOpener.OpenAsync(_torrent, content, _temp.Combine("state"), StorageKind.Mapped, null, CancellationToken.None);
        Assert.Null(opened.RefusedReason);
        var registry = new TorrentRegistry();
        registry.TryAdd(new SeededTorrent(_torrent, opened.Store!));
        _server = new SeedingServer(new SeedingOptions { ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0), UploadSlots = Peers },
            registry, new SeedingCounters(), NullLogger.Instance);
        _endPoint = _server.Start();
        _utpPort = new DatagramEndpoint(_endPoint);
        _utp = new UtpListener(_utpPort, _server.UtpAcceptor, new UtpCounters());
        _utp.Start();
        _utpPort.Start(_utp, "loadgen-test-utp");
    }

    public async Task DisposeAsync()
    {
        _utp.Dispose();
        _utpPort.Dispose();
        await _server.DisposeAsync();
        _temp.Dispose();
    }

    [Fact]
    public async Task Reference_mode_passes_an_honest_seeder_and_hashes_each_piece_about_once()
    {
        var copy = new VerifiedCopy(_torrent.TotalLength, _torrent.PieceLength, _torrent.PieceCount);
        var peers = await DownloadAsync(copy, piecesEach: 3 * _torrent.PieceCount);

        Assert.All(peers, p => Assert.Null(p.Failure));
        Assert.Equal(0, peers.Sum(p => p.VerifyFailures));
        Assert.Equal(0, peers.Sum(p => p.UnexpectedBlocks));
        Assert.All(Enumerable.Range(0, _torrent.PieceCount), piece => Assert.True(copy.IsVerified(piece)));
        // Each piece is hashed when it first arrives (twice at most, when both connections fetch it at once); the rest are compared.
        long hashed = peers.Sum(p => p.PiecesHashed);
        Assert.InRange(hashed, _torrent.PieceCount, 2 * _torrent.PieceCount);
        Assert.True(peers.Sum(p => p.PiecesVerified) >= 3 * hashed);
    }

    [Fact]
    public async Task Reference_mode_catches_a_byte_that_changed_on_disk_after_its_piece_was_verified()
    {
        var copy = new VerifiedCopy(_torrent.TotalLength, _torrent.PieceLength, _torrent.PieceCount);
        await DownloadAsync(copy, piecesEach: _torrent.PieceCount + 1);
        Assert.All(Enumerable.Range(0, _torrent.PieceCount), piece => Assert.True(copy.IsVerified(piece)));

        // Same size, so the seeder's store stays healthy and serves the changed byte from its mapping.
        await using (var stream = new FileStream(_file, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = 3 * PieceLength + 777;
            var b = stream.ReadByte();
            stream.Position = 3 * PieceLength + 777;
            stream.WriteByte((byte)(b ^ 0x40));
        }

        var peers = await DownloadAsync(copy, piecesEach: 2 * _torrent.PieceCount);
        Assert.All(peers, p => Assert.Null(p.Failure));
        Assert.Equal(0, peers.Sum(p => p.PiecesHashed));
        Assert.All(peers, p => Assert.InRange(p.VerifyFailures, 1, long.MaxValue));
    }

    [Fact]
    public async Task Sha1_mode_catches_a_byte_that_changed_on_disk()
    {
        await using (var stream = new FileStream(_file, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = _torrent.TotalLength - 1;
            var b = stream.ReadByte();
            stream.Position = _torrent.TotalLength - 1;
            stream.WriteByte((byte)(b ^ 0x01));
        }

        var peers = await DownloadAsync(copy: null, piecesEach: _torrent.PieceCount);
        Assert.Equal(peers.Sum(p => p.PiecesVerified), peers.Sum(p => p.PiecesHashed));
        // Each connection walks the pieces in order: the last piece fails once per pass, every other piece passes.
        Assert.All(peers, p =>
        {
            Assert.Null(p.Failure);
            double passes = (double)Finished(p) / _torrent.PieceCount;
            Assert.InRange(p.VerifyFailures, Math.Max(1, Math.Floor(passes) - 1), Math.Ceiling(passes) + 1);
        });
    }

    [Fact]
    public async Task Download_once_ends_each_peer_after_every_piece_even_when_the_choker_rotates_it_out_mid_piece()
    {
        // One slot, a rate limit and a fast rotation: each peer is choked with pieces in flight and must resume where it left off.
        await using var rotating = new SeedingServer(new SeedingOptions
        {
            ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            UploadSlots = 1,
            ChokeInterval = TimeSpan.FromMilliseconds(100),
            UploadRateLimit = 2 * 1024 * 1024, // about 3 s for three peers: some 30 choker rounds

        }, await RegistryAsync(), new SeedingCounters(), NullLogger.Instance);
        var endPoint = rotating.Start();
        var run = new LoadRun();
        using var stop = new CancellationTokenSource(Bound);
        var peers = new LoadPeer[3];
        for (var i = 0; i < peers.Length; i++)
        {
            peers[i] = new LoadPeer(_torrent, run, pipeline: 4, receiveBufferBytes: 256 * 1024, startPiece: i * _torrent.PieceCount / peers.Length);
            peers[i].DownloadOnce();
            await peers[i].ConnectAsync(endPoint, source: null, soRcvBuf: 0, stop.Token);
        }

        // The loops end by themselves once their peer has every piece.
        await Task.WhenAll(peers.Select(p => Task.Run(() => p.RunAsync(interested: true, stop.Token))));

        Assert.False(stop.IsCancellationRequested, $"the downloads did not finish within {Bound}");
        Assert.All(peers, p =>
        {
            Assert.Null(p.Failure);
            Assert.True(p.IsComplete);
            Assert.Equal(0, p.VerifyFailures);
            Assert.InRange(p.PiecesVerified, _torrent.PieceCount, 2 * _torrent.PieceCount);
        });
        Assert.True(peers.Sum(p => p.ChokesReceived) > 0, "no peer was choked: the test did not exercise the restart");
        foreach (var p in peers) p.Dispose();
    }

    private async Task<TorrentRegistry> RegistryAsync()
    {
        var opened = await StorageOpener.OpenAsync(_torrent, Path.GetDirectoryName(_file)!, _temp.Combine("state2"), StorageKind.Mapped, null, CancellationToken.None);
        var registry = new TorrentRegistry();
        registry.TryAdd(new SeededTorrent(_torrent, opened.Store!));
        return registry;
    }

    [Fact]
    public async Task Rc4_connections_download_and_verify_every_piece_from_an_encrypting_seeder()
    {
        var peers = await DownloadAsync(copy: null, piecesEach: _torrent.PieceCount, rc4: true);

        Assert.All(peers, p => Assert.Null(p.Failure));
        Assert.Equal(0, peers.Sum(p => p.VerifyFailures));
        Assert.True(peers.Sum(p => p.PiecesHashed) >= Peers * _torrent.PieceCount);
        Assert.Equal(Peers, _server.EncryptionCounters.Read(EncryptionCounter.HandshakesRc4));
    }

    [Fact]
    public async Task Utp_connections_download_and_verify_every_piece_from_the_seeders_utp_port()
    {
        var peers = await DownloadAsync(copy: null, piecesEach: _torrent.PieceCount, transport: TransportKind.Utp);

        Assert.All(peers, p => Assert.Null(p.Failure));
        Assert.All(peers, p => Assert.True(p.PiecesVerified >= _torrent.PieceCount));
        Assert.Equal(0, peers.Sum(p => p.VerifyFailures));
        Assert.Equal(0, peers.Sum(p => p.UnexpectedBlocks));
        Assert.Equal(Peers, _utp.Counters.Read(UtpCounter.ConnectionsAccepted)); // they came over uTP, not TCP
    }

    [Fact]
    public async Task Rc4_over_utp_downloads_and_verifies_every_piece()
    {
        var peers = await DownloadAsync(copy: null, piecesEach: _torrent.PieceCount, rc4: true, transport: TransportKind.Utp);

        Assert.All(peers, p => Assert.Null(p.Failure));
        Assert.Equal(0, peers.Sum(p => p.VerifyFailures));
        Assert.Equal(Peers, _server.EncryptionCounters.Read(EncryptionCounter.HandshakesRc4));
        Assert.Equal(Peers, _utp.Counters.Read(UtpCounter.ConnectionsAccepted));
    }

    [Fact]
    public async Task Digests_mode_passes_an_honest_seeder_checking_every_block_without_hashing()
    {
        var digests = BlockDigests.FromContent(_file, _torrent, out var error);
        Assert.Null(error);

        var peers = await DownloadAsync(copy: null, piecesEach: 2 * _torrent.PieceCount, digests: digests);

        Assert.All(peers, p => Assert.Null(p.Failure));
        Assert.Equal(0, peers.Sum(p => p.VerifyFailures));
        Assert.Equal(0, peers.Sum(p => p.UnexpectedBlocks));
        Assert.Equal(0, peers.Sum(p => p.PiecesHashed));
        Assert.All(peers, p => Assert.True(p.PiecesVerified >= 2 * _torrent.PieceCount));
    }

    [Fact]
    public async Task Digests_mode_catches_a_seeder_serving_a_block_that_changed_after_the_digests_were_made()
    {
        var digests = BlockDigests.FromContent(_file, _torrent, out _);
        // Same size, so the seeder's store stays healthy and serves the changed byte from its mapping; the short last block.
        await using (var stream = new FileStream(_file, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = _torrent.TotalLength - 2;
            var b = stream.ReadByte();
            stream.Position = _torrent.TotalLength - 2;
            stream.WriteByte((byte)(b ^ 0x20));
        }

        var peers = await DownloadAsync(copy: null, piecesEach: _torrent.PieceCount, digests: digests);

        Assert.All(peers, p =>
        {
            Assert.Null(p.Failure);
            Assert.InRange(p.VerifyFailures, 1, long.MaxValue);
        });
        Assert.Equal(0, peers.Sum(p => p.PiecesHashed));
    }

    [Fact]
    public async Task A_load_run_with_digests_made_beforehand_reports_the_digests_mode_and_fails_on_a_wrong_digest()
    {
        var torrentPath = _temp.Combine("data.torrent");
        await File.WriteAllBytesAsync(torrentPath, TestTorrents.Create(_file, PieceLength).Bytes);
        var digestsPath = _temp.Combine("data.digests");
        Assert.Equal(0, await Program.Main(["--torrent", torrentPath, "--reference-file", _file, "--make-digests", digestsPath]));

        string[] Run(string json) => ["--torrent", torrentPath, "--target", _endPoint.ToString(), "--peers", "2", "--pipeline", "4", "--per-ip", "0",
            "--duration", "2", "--warmup", "0", "--reference-digests", digestsPath, "--json", json];
        Assert.Equal(0, await Program.Main(Run(_temp.Combine("honest.json"))));
        using (var honest = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(_temp.Combine("honest.json"))))
        {
            Assert.Equal("digests", honest.RootElement.GetProperty("verify_mode").GetString());
            Assert.True(honest.RootElement.GetProperty("pieces_verified").GetInt64() > 0);
            Assert.Equal(0, honest.RootElement.GetProperty("verify_failures").GetInt64());
            Assert.Equal(0, honest.RootElement.GetProperty("pieces_hashed").GetInt64());
        }

        DigestFiles.Tamper(digestsPath, block: 0); // piece 0, where the first connection starts
        Assert.Equal(4, await Program.Main(Run(_temp.Combine("tampered.json"))));
        using var tampered = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(_temp.Combine("tampered.json")));
        Assert.True(tampered.RootElement.GetProperty("verify_failures").GetInt64() > 0);
    }

    [Fact]
    public async Task A_load_run_refuses_digests_of_another_torrent_before_connecting()
    {
        var torrentPath = _temp.Combine("data.torrent");
        await File.WriteAllBytesAsync(torrentPath, TestTorrents.Create(_file, PieceLength).Bytes);
        var otherFile = SampleContent.WriteFile(_temp.Combine("other/data.bin"), _torrent.TotalLength, seed: 6);
        var otherTorrent = _temp.Combine("other.torrent");
        await File.WriteAllBytesAsync(otherTorrent, TestTorrents.Create(otherFile, PieceLength).Bytes);
        var digestsPath = _temp.Combine("other.digests");
        Assert.Equal(0, await Program.Main(["--torrent", otherTorrent, "--reference-file", otherFile, "--make-digests", digestsPath]));

        var accepted = _server.Counters.Read(SeedingCounter.ConnectionsAccepted);
        Assert.Equal(1, await Program.Main(["--torrent", torrentPath, "--target", _endPoint.ToString(), "--peers", "2", "--pipeline", "4",
            "--duration", "1", "--warmup", "0", "--reference-digests", digestsPath]));
        Assert.Equal(accepted, _server.Counters.Read(SeedingCounter.ConnectionsAccepted));
    }

    private Task<LoadPeer[]> DownloadAsync(VerifiedCopy? copy, int piecesEach, bool rc4 = false, TransportKind transport = TransportKind.Tcp,
        BlockDigests? digests = null) =>
        Leechers.DownloadAsync(_torrent, _endPoint, Peers, copy, piecesEach, rc4, transport: transport, digests: digests);

    private static long Finished(LoadPeer p) => Leechers.Finished(p);
}
