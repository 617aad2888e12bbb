using System.Buffers.Binary;
using System.Net;
using Appliance.Protocol.PeerWire;
using Appliance.Protocol.Metainfo;
using Appliance.Seeding.Sessions;
using Appliance.Seeding.Torrents;
using Appliance.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Seeding.Tests.Support;

/// <summary>A <see cref="SeedingServer"/> on 127.0.0.1:0 seeding one generated single-file torrent from memory.</summary>
internal sealed class TestSeeder : IAsyncDisposable
{
    private readonly TempDirectory _temp = new("seeding-tests");

    public TestSeeder(SeedingOptions? options = null, long size = 300_017, int pieceLength = 32 * 1024, bool segments = true)
    {
        string file = SampleContent.WriteFile(_temp.Combine("data.bin"), size, seed: 11);
        Data = File.ReadAllBytes(file);
        Metainfo = TestTorrents.Create(file, pieceLength).Metainfo;
        Store = new InMemoryPieceStore(Metainfo, Data, segments);
        Registry = new TorrentRegistry();
        Torrent = new SeededTorrent(Metainfo, Store);
        Registry.TryAdd(Torrent);
        Counters = new SeedingCounters();
        Server = new SeedingServer(TestTcpEngine.Apply(options ?? new SeedingOptions()) with { ListenEndPoint = new IPEndPoint(IPAddress.Loopback, 0) },
            Registry, Counters, NullLogger.Instance);
        EndPoint = Server.Start();
    }

    public byte[] Data { get; }
    public TorrentMetainfo Metainfo { get; }
    public InMemoryPieceStore Store { get; }
    public TorrentRegistry Registry { get; }
    public SeededTorrent Torrent { get; }
    public SeedingCounters Counters { get; }
    public SeedingServer Server { get; }
    public IPEndPoint EndPoint { get; }
    public string TempPath => _temp.Path;

    public async Task<FakePeer> ConnectAsync(bool fast = true, bool extensions = true)
    {
        var peer = await FakePeer.ConnectAsync(EndPoint);
        await peer.SendHandshakeAsync(Metainfo.InfoHash, fast, extensions);
        await peer.ReadHandshakeAsync();
        return peer;
    }

    /// <summary>After the peer's handshake went out: reads ours, says interested, waits for unchoke, then fetches and checks everything.</summary>
    public async Task DownloadEveryBlockAsync(FakePeer peer)
    {
        await peer.ReadHandshakeAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        await RequestEveryBlockAndVerifyAsync(peer);
    }

    /// <summary>
    /// Requests every block of the torrent in one pipelined write (the short last block too) and checks each piece
    /// message against the data; returns the number of blocks.
    /// </summary>
    public async Task<int> RequestEveryBlockAndVerifyAsync(FakePeer peer)
    {
        var requests = new List<byte>();
        var expected = new List<(int Piece, int Begin, int Length)>();
        for (int piece = 0; piece < Metainfo.PieceCount; piece++)
        {
            int size = Metainfo.PieceSize(piece);
            for (int begin = 0; begin < size; begin += 16 * 1024)
            {
                int length = Math.Min(16 * 1024, size - begin);
                requests.AddRange(FakePeer.Block(PeerMessageId.Request, piece, begin, length));
                expected.Add((piece, begin, length));
            }
        }
        await peer.SendAsync([.. requests]);
        foreach (var (piece, begin, length) in expected)
        {
            var payload = await peer.ReadUntilAsync(PeerMessageId.Piece);
            Assert.Equal(piece, BinaryPrimitives.ReadInt32BigEndian(payload));
            Assert.Equal(begin, BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4)));
            long offset = (long)piece * Metainfo.PieceLength + begin;
            Assert.True(Data.AsSpan((int)offset, length).SequenceEqual(payload.AsSpan(8)), $"block {piece}/{begin} differs");
        }
        return expected.Count;
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        _temp.Dispose();
    }
}
