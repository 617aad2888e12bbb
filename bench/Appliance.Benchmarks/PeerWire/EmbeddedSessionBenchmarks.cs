using System.Net;
using System.Net.Sockets;
using Appliance.Protocol.Identity;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding;
using Appliance.Seeding.Sessions;
using Appliance.Seeding.Torrents;
using Appliance.Seeding.Transport;
using Appliance.Seeding.Upload;
using Appliance.Storage;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Benchmarks.PeerWire;

/// <summary>
/// Request bytes pushed through the real session handler without a socket (Garnet's "embedded" idea): parse and
/// validate 32 pipelined requests, queue them, take them as one batch, frame the headers and resolve every block
/// to its mapped segments (or read it, with pread), then complete the batch. Everything but the syscall. Budget: 0 B/op.
/// Torrents: a v1 single file, a hybrid with pad files joined by its v2 info-hash (BEP 52), and a v2-only torrent of the
/// same files; in the last two the first piece is part file, part zero page.
/// </summary>
[MemoryDiagnoser]
public class EmbeddedSessionBenchmarks
{
    private const int Requests = 32;
    private BenchTorrent? _torrent;
    private SeedingServer? _server;
    private PeerSession? _session;
    private Socket? _client;
    private Socket? _serverSide;
    private SendBatch? _batch;
    private byte[] _requestBytes = [];

    [Params(StorageKind.Mapped, StorageKind.Pread)]
    public StorageKind Storage { get; set; }

    [Params(SessionTorrent.V1, SessionTorrent.HybridJoinedByV2, SessionTorrent.V2Only)]
    public SessionTorrent Torrent { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _torrent = Torrent switch
        {
            SessionTorrent.V1 => BenchTorrent.Create(Storage),
            SessionTorrent.HybridJoinedByV2 => BenchTorrent.CreateV2(Storage, TorrentFormat.Hybrid),
            _ => BenchTorrent.CreateV2(Storage, TorrentFormat.V2),
        };
        var registry = new TorrentRegistry();
        var seeded = new SeededTorrent(_torrent.Metainfo, _torrent.Store);
        registry.TryAdd(seeded);
        _server = new SeedingServer(new SeedingOptions { UploadSlots = 0 }, registry, new SeedingCounters(), NullLogger.Instance);

        // A connected pair only so the session has a socket; nothing is sent or received on it.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _client.Connect(listener.LocalEndPoint!);
        _serverSide = listener.Accept();
        _session = new PeerSession(_server.SessionServices, new TcpPeerTransport(_serverSide, (IPEndPoint)_client.LocalEndPoint!), 1);

        var hello = new byte[Handshake.Length + PeerMessageWriter.SimpleLength];
        // A v2-only torrent's InfoHash is its truncated v2 hash already.
        var infoHash = Torrent == SessionTorrent.HybridJoinedByV2 ? _torrent.Metainfo.TruncatedInfoHashV2!.Value : _torrent.Metainfo.InfoHash;
        new Handshake(new ReservedBits(0x04), infoHash, ClientIdentity.NewPeerId()).WriteTo(hello);
        PeerMessageWriter.WriteSimple(hello.AsSpan(Handshake.Length), PeerMessageId.Interested);
        if (_session.Receive(hello, out _) != hello.Length) throw new InvalidOperationException("handshake not accepted");
        _batch = new SendBatch();
        _session.TakeBatch(_batch); // the handshake answer and unchoke
        _batch.Reset(_server.SmallBuffers);

        _requestBytes = new byte[Requests * PeerMessageWriter.RequestLength];
        int blocksPerPiece = BenchTorrent.PieceLength / 16384;
        for (int i = 0; i < Requests; i++)
        {
            var block = new BlockRequest(i / blocksPerPiece, i % blocksPerPiece * 16384, 16384);
            PeerMessageWriter.WriteBlockMessage(_requestBytes.AsSpan(i * PeerMessageWriter.RequestLength), PeerMessageId.Request, block);
        }
        // Every request must come back as a block: rejects would make this measure a cheaper path than the one it names.
        long prepared = RequestsToPreparedBatch();
        if (prepared < (long)Requests * 16384) throw new InvalidOperationException($"{prepared} bytes prepared for {Requests} blocks of {Torrent}");
    }

    [Benchmark(OperationsPerInvoke = Requests)]
    public long RequestsToPreparedBatch()
    {
        var session = _session!;
        var batch = _batch!;
        if (session.Receive(_requestBytes, out _) != _requestBytes.Length) throw new InvalidOperationException("requests not consumed");
        long bytes = 0;
        while (session.TakeBatch(batch))
        {
            if (!batch.Prepare(session.Torrent!.Store, _server!.ReadBuffers)) throw new InvalidOperationException("store failed");
            bytes += batch.TotalBytes;
            session.Completed(batch, session.Torrent!);
            batch.Reset(_server.SmallBuffers);
        }
        return bytes;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client?.Dispose();
        _serverSide?.Dispose();
        _torrent?.Dispose();
    }
}

/// <summary>The torrent a benchmarked session serves, and the info-hash its peer came by.</summary>
public enum SessionTorrent
{
    V1,
    HybridJoinedByV2,
    V2Only,
}
