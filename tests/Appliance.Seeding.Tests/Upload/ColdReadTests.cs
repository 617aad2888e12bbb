using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Tests.Support;
using Appliance.Storage;
using Appliance.Storage.Mapping;

namespace Appliance.Seeding.Tests.Upload;

/// <summary>
/// Blocks of mapped content that are not in the page cache go to the read-ahead threads, never into a send: the
/// content is written next to the test binaries (a disk, not a tmpfs /tmp, so its pages can be dropped) and one
/// file's pages are dropped with POSIX_FADV_DONTNEED before it is requested.
/// </summary>
public sealed partial class ColdReadTests
{
    private const int Block = 16 * 1024;
    private const int PieceLength = 256 * 1024;
    private const int FileSize = 4 * 1024 * 1024; // 16 pieces each: the files meet on a piece boundary

    private static readonly SeedingOptions Options = new()
    {
        UploadSlots = 0,
        ChokeInterval = TimeSpan.FromHours(1),
        SweepInterval = TimeSpan.FromHours(1),
    };

    [Fact]
    public async Task A_block_of_a_file_dropped_from_the_page_cache_is_read_ahead_then_served_intact()
    {
        await using var seeder = await StartAsync();
        var (coldFile, _) = Files(seeder);
        DropFromPageCache(seeder, coldFile);
        int piece = FirstPiece(coldFile) + 5;
        Assert.False(seeder.Store.IsResident(piece, 0, Block), "the test needs a file system that drops clean pages (not tmpfs)");

        using var peer = await UnchokedPeerAsync(seeder);
        await peer.RequestAsync(piece, Block, Block);
        await ReadBlockAsync(peer, seeder, coldFile, piece, Block);

        Assert.True(seeder.Counters.Read(SeedingCounter.ReadAheads) >= 1);
        Assert.True(seeder.Counters.Read(SeedingCounter.ReadAheadBytesAdvised) >= Block);
        var buckets = new long[seeder.Counters.ReadAheadLatency.BucketCount];
        seeder.Counters.ReadAheadLatency.Read(buckets);
        Assert.True(buckets.Sum() >= 1);
        Assert.True(seeder.Store.IsResident(piece, Block, Block));
    }

    [Fact]
    public async Task A_cached_block_is_served_while_another_peer_waits_for_a_block_the_disk_has_not_read()
    {
        await using var seeder = await StartAsync();
        var (coldFile, warmFile) = Files(seeder);
        DropFromPageCache(seeder, coldFile);
        int coldPiece = FirstPiece(coldFile) + 3;
        int warmPiece = FirstPiece(warmFile) + 3;
        Assert.False(seeder.Store.IsResident(coldPiece, 0, Block), "the test needs a file system that drops clean pages (not tmpfs)");
        Assert.True(seeder.Store.IsResident(warmPiece, 0, Block));
        var readAhead = seeder.Server.SessionServices.ReadAhead!;
        readAhead.Hold(true); // the disk does not answer until released

        using var waiting = await UnchokedPeerAsync(seeder);
        using var served = await UnchokedPeerAsync(seeder);
        await waiting.RequestAsync(coldPiece, 0, Block);
        await WaitUntilAsync(() => seeder.Counters.Read(SeedingCounter.ReadAheads) == 1);
        await served.RequestAsync(warmPiece, 0, Block);
        await ReadBlockAsync(served, seeder, warmFile, warmPiece, 0);
        Assert.Equal(0, waiting.Socket.Available); // its block is still on the (held) disk

        readAhead.Hold(false);
        await ReadBlockAsync(waiting, seeder, coldFile, coldPiece, 0);
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.ReadAheads));
    }

    [Fact]
    public async Task A_cold_file_truncated_under_the_mapping_disconnects_the_peer_and_faults_the_store()
    {
        await using var seeder = await StartAsync();
        var (coldFile, _) = Files(seeder);
        string path = Path.Combine(seeder.ContentPath, "data", coldFile.Path);
        using (var file = File.OpenWrite(path)) file.SetLength(PieceLength);
        int piece = FirstPiece(coldFile) + 8; // beyond the new end: no page of it exists
        Assert.False(seeder.Store.IsResident(piece, 0, Block));

        using var peer = await UnchokedPeerAsync(seeder);
        await peer.RequestAsync(piece, 0, Block);

        Assert.True(await peer.WaitClosedAsync());
        Assert.True(seeder.Store.IsFaulted);
        Assert.Equal(1, seeder.Counters.Read(SeedingCounter.DiskErrors));
    }

    [Fact]
    public async Task A_send_that_waits_for_the_disk_makes_a_store_that_stopped_checking_check_residency_again()
    {
        await using var seeder = await StartAsync();
        var store = Assert.IsType<MappedPieceStore>(seeder.Store);
        var (coldFile, warmFile) = Files(seeder);
        for (int i = 0; i < MappedPieceStore.WarmAfterResidentChecks; i++) Assert.True(store.IsResident(FirstPiece(warmFile), 0, Block));
        Assert.False(store.ChecksResidency); // content seen in memory: no mincore per block any more
        DropFromPageCache(seeder, coldFile);
        int piece = FirstPiece(coldFile) + 4;

        using var peer = await UnchokedPeerAsync(seeder);
        await peer.RequestAsync(piece, 0, Block);
        await ReadBlockAsync(peer, seeder, coldFile, piece, 0); // read from disk inside the send

        await WaitUntilAsync(() => seeder.Counters.Read(SeedingCounter.SendMajorFaults) >= 1); // counted once the send returned
        Assert.True(store.ChecksResidency);
    }

    [Fact]
    public async Task With_read_ahead_off_a_cold_block_is_served_by_the_send_itself()
    {
        await using var seeder = await StartAsync(Options with { ReadAheadThreads = 0 });
        var (coldFile, _) = Files(seeder);
        DropFromPageCache(seeder, coldFile);
        int piece = FirstPiece(coldFile) + 2;

        using var peer = await UnchokedPeerAsync(seeder);
        await peer.RequestAsync(piece, 0, Block);
        await ReadBlockAsync(peer, seeder, coldFile, piece, 0);

        Assert.Null(seeder.Server.SessionServices.ReadAhead);
        Assert.Equal(0, seeder.Counters.Read(SeedingCounter.ReadAheads));
    }

    private static Task<FileSeeder> StartAsync(SeedingOptions? options = null) =>
        FileSeeder.StartAsync([("d/cold.bin", FileSize), ("d/warm.bin", FileSize)], TorrentFormat.V1, PieceLength, StorageKind.Mapped,
            options ?? Options, tempParent: AppContext.BaseDirectory);

    private static (TorrentFile Cold, TorrentFile Warm) Files(FileSeeder seeder) =>
        (seeder.Metainfo.Files.Single(f => f.Path.EndsWith("cold.bin", StringComparison.Ordinal)),
         seeder.Metainfo.Files.Single(f => f.Path.EndsWith("warm.bin", StringComparison.Ordinal)));

    private static int FirstPiece(TorrentFile file) => (int)(file.Offset / PieceLength);

    private static async Task<FakePeer> UnchokedPeerAsync(FileSeeder seeder)
    {
        var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        return peer;
    }

    private static async Task ReadBlockAsync(FakePeer peer, FileSeeder seeder, TorrentFile file, int piece, int begin)
    {
        var payload = await peer.ReadUntilAsync(PeerMessageId.Piece);
        Assert.Equal(piece, BinaryPrimitives.ReadInt32BigEndian(payload));
        Assert.Equal(begin, BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4)));
        long inFile = (long)piece * PieceLength + begin - file.Offset;
        var expected = seeder.Files[file.Path].AsSpan((int)inFile, Block);
        Assert.True(expected.SequenceEqual(payload.AsSpan(8)), $"block {piece}/{begin} differs");
    }

    /// <summary>Drops the file's clean pages from the page cache (nothing has touched them through the mapping yet).</summary>
    private static void DropFromPageCache(FileSeeder seeder, TorrentFile file)
    {
        using var handle = File.OpenHandle(Path.Combine(seeder.ContentPath, "data", file.Path));
        Assert.Equal(0, posix_fadvise((int)handle.DangerousGetHandle(), 0, 0, PosixFadvDontNeed));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + FakePeer.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(10);
        }
    }

    private const int PosixFadvDontNeed = 4;

    [LibraryImport("libc")]
    private static partial int posix_fadvise(int fd, long offset, long length, int advice);
}
