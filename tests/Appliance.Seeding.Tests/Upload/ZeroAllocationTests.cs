using System.Buffers.Binary;
using System.Net.Sockets;
using Xunit.Abstractions;
using Appliance.Protocol.Encryption;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Tests.Support;
using Appliance.TestKit;

namespace Appliance.Seeding.Tests.Upload;

[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>
/// The request->piece path allocates nothing in steady state. The client runs on its own thread with blocking
/// socket calls over preallocated buffers (no allocation of its own), and this collection runs alone, so the
/// process-wide allocated-bytes counter measures the seeder.
/// </summary>
[Collection(nameof(AllocationCollection))]
public sealed partial class ZeroAllocationTests(ITestOutputHelper output)
{
    private const int Block = 16 * 1024;
    private const int RequestsPerBatch = 32;

    [Theory]
    [InlineData(true, false, TcpEngine.Sockets)]
    [InlineData(false, false, TcpEngine.Sockets)]
    [InlineData(true, true, TcpEngine.Sockets)]
    [InlineData(true, false, TcpEngine.Epoll)]
    [InlineData(false, false, TcpEngine.Epoll)]
    [InlineData(true, true, TcpEngine.Epoll)]
    public async Task Serving_thousands_of_blocks_allocates_less_than_a_byte_per_block(bool segments, bool rc4, TcpEngine engine)
    {
        await using var seeder = new TestSeeder(TestTcpEngine.Chosen(new SeedingOptions
        {
            TcpEngine = engine,
            UploadSlots = 0,
            ChokeInterval = TimeSpan.FromHours(1),
            SweepInterval = TimeSpan.FromHours(1),
        }), size: 8L * 1024 * 1024, pieceLength: 256 * 1024, segments: segments);
        int blocksInTorrent = (int)(seeder.Data.Length / Block);
        Measure(seeder.EndPoint, seeder.Metainfo.InfoHash, block => (block * Block / seeder.Metainfo.PieceLength, block * Block % seeder.Metainfo.PieceLength),
            blocksInTorrent, () => seeder.Counters.Read(SeedingCounter.BatchesSent), rc4);
    }

    [Theory]
    [InlineData(Appliance.Storage.StorageKind.Mapped, false)]
    [InlineData(Appliance.Storage.StorageKind.Pread, false)]
    [InlineData(Appliance.Storage.StorageKind.Mapped, true)]
    public async Task Serving_a_hybrid_torrent_with_pad_files_allocates_less_than_a_byte_per_block(Appliance.Storage.StorageKind storage, bool joinByV2Hash)
    {
        await using var seeder = await StartFilesEndingMidPieceAsync(Appliance.Protocol.Metainfo.TorrentFormat.Hybrid, storage);
        // A peer that came by the truncated v2 hash (BEP 52) is served from the same v1 piece grid.
        var infoHash = joinByV2Hash ? seeder.Metainfo.TruncatedInfoHashV2!.Value : seeder.Metainfo.InfoHash;
        MeasureWholePieces(seeder, infoHash);
    }

    [Theory]
    [InlineData(Appliance.Storage.StorageKind.Mapped)]
    [InlineData(Appliance.Storage.StorageKind.Pread)]
    public async Task Serving_a_v2_only_torrent_allocates_less_than_a_byte_per_block(Appliance.Storage.StorageKind storage)
    {
        // No pad files in the torrent: each file is aligned to pieces by implied zeros, served from the zero page as a hybrid's are.
        await using var seeder = await StartFilesEndingMidPieceAsync(Appliance.Protocol.Metainfo.TorrentFormat.V2, storage);
        Assert.Equal(seeder.Metainfo.TruncatedInfoHashV2, seeder.Metainfo.InfoHash); // known by its v2 hash only
        MeasureWholePieces(seeder, seeder.Metainfo.InfoHash);
    }

    /// <summary>Files that end mid-piece, so zeros follow them: many blocks are part file, part zeros from the zero page.</summary>
    private static async Task<FileSeeder> StartFilesEndingMidPieceAsync(Appliance.Protocol.Metainfo.TorrentFormat format, Appliance.Storage.StorageKind storage)
    {
        var seeder = await FileSeeder.StartAsync(
            [("d/a.bin", 1_000_001), ("d/b.bin", 700_003), ("d/c.bin", 20_000), ("d/e.bin", 1_500_000)],
            format, 256 * 1024, storage, new SeedingOptions
            {
                UploadSlots = 0,
                ChokeInterval = TimeSpan.FromHours(1),
                SweepInterval = TimeSpan.FromHours(1),
            });
        Assert.Equal(format, seeder.Metainfo.Format);
        Assert.Contains(seeder.Metainfo.Files, f => f.IsPad);
        return seeder;
    }

    private void MeasureWholePieces(FileSeeder seeder, Appliance.Protocol.Metainfo.InfoHash infoHash)
    {
        int pieceLength = seeder.Metainfo.PieceLength;
        int blocksInTorrent = (seeder.Metainfo.PieceCount - 1) * (pieceLength / Block); // whole pieces
        Measure(seeder.EndPoint, infoHash, block => (block * Block / pieceLength, block * Block % pieceLength),
            blocksInTorrent, () => seeder.Counters.Read(SeedingCounter.BatchesSent));
    }

    private void Measure(System.Net.IPEndPoint endPoint, Appliance.Protocol.Metainfo.InfoHash infoHash, Func<int, (int Piece, int Begin)> blockAt,
        int blocksInTorrent, Func<long> batchesSent, bool rc4 = false)
    {
        long allocated = 0;
        int measuredBlocks = 0;
        var client = new Thread(() =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            socket.ReceiveTimeout = socket.SendTimeout = 10_000;
            socket.Connect(endPoint);
            var handshake = FakePeer.HandshakeBytes(infoHash, fast: true, extensions: false);
            Rc4? encryptor = null, decryptor = null;
            var sendScratch = new byte[RequestsPerBatch * PeerMessageWriter.RequestLength];
            if (rc4)
            {
                // An encrypted peer: blocks go out as pread copies encrypted in place instead of mapped pages.
                var initiator = new MseInitiator();
                var selected = initiator.Handshake(socket, infoHash, CryptoMethods.Rc4, handshake);
                if (selected != CryptoMethods.Rc4) throw new InvalidDataException("RC4 not selected");
                (encryptor, decryptor) = (initiator.Encryptor, initiator.Decryptor);
            }
            else
            {
                socket.Send(handshake);
            }
            void Send(byte[] bytes)
            {
                if (encryptor is null)
                {
                    socket.Send(bytes);
                    return;
                }
                bytes.CopyTo(sendScratch, 0);
                encryptor.Apply(sendScratch.AsSpan(0, bytes.Length));
                socket.Send(sendScratch, 0, bytes.Length, SocketFlags.None);
            }
            void Read(byte[] buffer, int count)
            {
                ReadExactly(socket, buffer, count);
                decryptor?.Apply(buffer.AsSpan(0, count));
            }
            var scratch = new byte[64 * 1024];
            Read(scratch, Handshake.Length + PeerMessageWriter.SimpleLength); // handshake + have_all
            var interested = new byte[5];
            PeerMessageWriter.WriteSimple(interested, PeerMessageId.Interested);
            Send(interested);
            Read(scratch, PeerMessageWriter.SimpleLength); // unchoke

            var batches = new byte[4][];
            for (int b = 0; b < batches.Length; b++)
            {
                batches[b] = new byte[RequestsPerBatch * PeerMessageWriter.RequestLength];
                for (int i = 0; i < RequestsPerBatch; i++)
                {
                    var (piece, begin) = blockAt((b * RequestsPerBatch + i) % blocksInTorrent);
                    PeerMessageWriter.WriteBlockMessage(batches[b].AsSpan(i * PeerMessageWriter.RequestLength), PeerMessageId.Request, new BlockRequest(piece, begin, Block));
                }
            }
            var response = new byte[RequestsPerBatch * (PeerMessageWriter.PieceHeaderLength + Block)];

            void Run(int rounds)
            {
                // Two batches in flight: while we read one, the seeder already has the next.
                Send(batches[0]);
                for (int round = 0; round < rounds; round++)
                {
                    if (round + 1 < rounds) Send(batches[(round + 1) % batches.Length]);
                    Read(response, response.Length);
                    if (BinaryPrimitives.ReadInt32BigEndian(response) != 9 + Block || response[4] != (byte)PeerMessageId.Piece)
                        throw new InvalidDataException("unexpected response");
                }
            }

            Run(200); // warm-up: pools fill, JIT tiers up
            // The counter is process-wide: timers and sockets other tests left closing can allocate in any window.
            // An allocation on the serving path shows in every window, so the quietest of three is the measure.
            allocated = long.MaxValue;
            for (int window = 0; window < 3; window++)
            {
                long before = GC.GetTotalAllocatedBytes(precise: true);
                Run(500);
                allocated = Math.Min(allocated, GC.GetTotalAllocatedBytes(precise: true) - before);
            }
            measuredBlocks = 500 * RequestsPerBatch;
        });
        client.Start();
        Assert.True(client.Join(TimeSpan.FromSeconds(60)), "client did not finish");

        Assert.Equal(16_000, measuredBlocks);
        double perBlock = (double)allocated / measuredBlocks;
        output.WriteLine($"{allocated} bytes allocated for {measuredBlocks} blocks ({perBlock:F3} B/block), {batchesSent()} batches");
        Assert.True(perBlock < 1.0, $"{allocated} bytes allocated for {measuredBlocks} blocks ({perBlock:F2} B/block)");
    }

    [Fact]
    public async Task Serving_blocks_read_ahead_from_disk_allocates_less_than_a_byte_per_block()
    {
        // A file on a disk (next to the test binaries, not a tmpfs /tmp), dropped from the page cache, walked forwards
        // once: every batch waits for the read-ahead threads (advice, pread, wake-up) before it goes out.
        const int FileBytes = 64 * 1024 * 1024;
        await using var seeder = await FileSeeder.StartAsync([("cold.bin", FileBytes)], Appliance.Protocol.Metainfo.TorrentFormat.V1, 256 * 1024,
            Appliance.Storage.StorageKind.Mapped, new SeedingOptions
            {
                UploadSlots = 0,
                ChokeInterval = TimeSpan.FromHours(1),
                SweepInterval = TimeSpan.FromHours(1),
            }, tempParent: AppContext.BaseDirectory);
        using (var handle = File.OpenHandle(Path.Combine(seeder.ContentPath, "cold.bin")))
            Assert.Equal(0, posix_fadvise((int)handle.DangerousGetHandle(), 0, 0, 4 /* POSIX_FADV_DONTNEED */));
        Assert.False(seeder.Store.IsResident(1, 0, Block), "the test needs a file system that drops clean pages (not tmpfs)");
        int pieceLength = seeder.Metainfo.PieceLength;

        long allocated = 0;
        const int WarmUpBlocks = 512, WindowBlocks = 1024, Windows = 3;
        var client = new Thread(() =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            socket.ReceiveTimeout = socket.SendTimeout = 30_000;
            socket.Connect(seeder.EndPoint);
            socket.Send(FakePeer.HandshakeBytes(seeder.Metainfo.InfoHash, fast: true, extensions: false));
            var scratch = new byte[64 * 1024];
            ReadExactly(socket, scratch, Handshake.Length + PeerMessageWriter.SimpleLength);
            var interested = new byte[5];
            PeerMessageWriter.WriteSimple(interested, PeerMessageId.Interested);
            socket.Send(interested);
            ReadExactly(socket, scratch, PeerMessageWriter.SimpleLength);
            // Every request written up front (the ring holds 500), so the walk itself allocates nothing.
            int total = WarmUpBlocks + Windows * WindowBlocks;
            var requests = new byte[total * PeerMessageWriter.RequestLength];
            for (int b = 0; b < total; b++)
                PeerMessageWriter.WriteBlockMessage(requests.AsSpan(b * PeerMessageWriter.RequestLength), PeerMessageId.Request,
                    new BlockRequest(b * Block / pieceLength, b * Block % pieceLength, Block));
            var response = new byte[RequestsPerBatch * (PeerMessageWriter.PieceHeaderLength + Block)];
            int sent = 0, received = 0;
            void Walk(int blocks)
            {
                for (int end = received + blocks; received < end; received += RequestsPerBatch)
                {
                    // Keep two batches of requests ahead of what has been read.
                    while (sent < Math.Min(total, received + 2 * RequestsPerBatch))
                    {
                        socket.Send(requests, sent * PeerMessageWriter.RequestLength, RequestsPerBatch * PeerMessageWriter.RequestLength, SocketFlags.None);
                        sent += RequestsPerBatch;
                    }
                    ReadExactly(socket, response, response.Length);
                }
            }
            Walk(WarmUpBlocks);
            allocated = long.MaxValue;
            for (int window = 0; window < Windows; window++)
            {
                long before = GC.GetTotalAllocatedBytes(precise: true);
                Walk(WindowBlocks);
                allocated = Math.Min(allocated, GC.GetTotalAllocatedBytes(precise: true) - before);
            }
        });
        client.Start();
        Assert.True(client.Join(TimeSpan.FromSeconds(120)), "client did not finish");

        long readAheads = seeder.Counters.Read(SeedingCounter.ReadAheads);
        double perBlock = (double)allocated / WindowBlocks;
        output.WriteLine($"{allocated} bytes allocated for {WindowBlocks} blocks ({perBlock:F3} B/block), {readAheads} read-aheads");
        Assert.True(readAheads > Windows, $"only {readAheads} read-aheads: the blocks were not cold");
        Assert.True(perBlock < 1.0, $"{allocated} bytes allocated for {WindowBlocks} blocks ({perBlock:F2} B/block)");
    }

    [System.Runtime.InteropServices.LibraryImport("libc")]
    private static partial int posix_fadvise(int fd, long offset, long length, int advice);

    private static void ReadExactly(Socket socket, byte[] buffer, int count)
    {
        int filled = 0;
        while (filled < count)
        {
            int n = socket.Receive(buffer, filled, count - filled, SocketFlags.None);
            if (n == 0) throw new EndOfStreamException();
            filled += n;
        }
    }
}
