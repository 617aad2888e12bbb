using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Tests.Support;
using Appliance.Storage;
using Appliance.Storage.Pool;

namespace Appliance.Seeding.Tests.Upload;

/// <summary>Counts this process's descriptors, so its tests must not run beside others opening files or sockets.</summary>
[CollectionDefinition(nameof(DescriptorCollection), DisableParallelization = true)]
public sealed class DescriptorCollection;

/// <summary>Torrents with many files are served over real sockets through a file pool far smaller than the file count.</summary>
[Collection(nameof(DescriptorCollection))]
public sealed class ManyFilesTests
{
    private const int Block = 16 * 1024;
    private const int RequestsPerRound = 64;

    [Theory]
    [InlineData(StorageKind.Mapped)]
    [InlineData(StorageKind.Pread)]
    public async Task Two_thousand_files_are_served_to_a_peer_with_open_descriptors_bounded_by_a_pool_of_16(StorageKind storage)
    {
        var files = Enumerable.Range(0, 2_000).Select(i => ($"many/{i / 100:D2}/f{i:D5}.bin", 5_000)).ToList();
        var pool = new FilePool(16);
        int before = OpenDescriptors();
        // One epoll loop when that engine serves (APPLIANCE_TEST_TCP_ENGINE): each loop holds two descriptors of its own.
        await using var seeder = await FileSeeder.StartAsync(files, TorrentFormat.V1, Block, storage, Unlimited with { EpollLoops = 1 }, pool);
        byte[] data = [.. seeder.Metainfo.Files.SelectMany(f => seeder.Files[f.Path])];
        int blocks = (data.Length + Block - 1) / Block;
        using var peer = await seeder.ConnectAsync();
        await peer.SendSimpleAsync(PeerMessageId.Interested);
        await peer.ReadUntilAsync(PeerMessageId.Unchoke);
        int most = OpenDescriptors();
        for (int first = 0; first < blocks; first += RequestsPerRound)
        {
            int count = Math.Min(RequestsPerRound, blocks - first);
            await peer.SendAsync([.. Enumerable.Range(first, count).SelectMany(b => FakePeer.Block(PeerMessageId.Request, b, 0, seeder.Metainfo.PieceSize(b)))]);
            for (int i = 0; i < count; i++)
            {
                var payload = await peer.ReadUntilAsync(PeerMessageId.Piece);
                int piece = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(payload);
                Assert.True(data.AsSpan(piece * Block, seeder.Metainfo.PieceSize(piece)).SequenceEqual(payload.AsSpan(8)), $"piece {piece} differs");
            }
            // A send in flight holds the files of its blocks (up to 60 blocks of up to 4 files here) and may take the
            // pool over its cap; once the seeder has released the batch the pool is back under it.
            Assert.True(await UnderCapacityAsync(pool), $"{pool.OpenCount} files open after round {first / RequestsPerRound}");
            most = Math.Max(most, OpenDescriptors());
        }
        Assert.False(seeder.Store.IsFaulted);
        Assert.True(pool.Evictions > 1_000, $"{pool.Evictions} evictions");
        // The pool's files plus the listener, the two ends of the peer connection and what the runtime opens meanwhile.
        Assert.True(most - before <= pool.Capacity + 16, $"{most - before} descriptors opened beyond the {before} at start");
    }

    [Fact]
    public async Task A_deleted_file_fails_only_the_peer_that_asks_for_it_and_the_torrent_keeps_seeding()
    {
        var files = Enumerable.Range(0, 8).Select(i => ($"few/f{i}.bin", 20_000)).ToList();
        var pool = new FilePool(2);
        await using var seeder = await FileSeeder.StartAsync(files, TorrentFormat.V1, Block, StorageKind.Mapped, Unlimited, pool);
        // Verification read every file through the pool of 2: the first is closed now, and cannot be reopened once deleted.
        File.Delete(Path.Combine(Path.GetDirectoryName(((FilePieceStore)seeder.Store).Layout.Files[0].FullPath)!, "f0.bin"));

        using (var unlucky = await seeder.ConnectAsync())
        {
            await unlucky.SendSimpleAsync(PeerMessageId.Interested);
            await unlucky.ReadUntilAsync(PeerMessageId.Unchoke);
            await unlucky.RequestAsync(0, 0, Block);
            Assert.True(await unlucky.WaitClosedAsync());
        }
        Assert.False(seeder.Store.IsFaulted);
        Assert.True(pool.OpenFailures >= 1);

        using var other = await seeder.ConnectAsync();
        await other.SendSimpleAsync(PeerMessageId.Interested);
        await other.ReadUntilAsync(PeerMessageId.Unchoke);
        await other.RequestAsync(2, 0, Block);
        var payload = await other.ReadUntilAsync(PeerMessageId.Piece);
        byte[] data = [.. seeder.Metainfo.Files.SelectMany(f => seeder.Files[f.Path])];
        Assert.True(data.AsSpan(2 * Block, Block).SequenceEqual(payload.AsSpan(8)));
    }

    private static SeedingOptions Unlimited => new()
    {
        UploadSlots = 0,
        ChokeInterval = TimeSpan.FromHours(1),
        SweepInterval = TimeSpan.FromHours(1),
    };

    private static async Task<bool> UnderCapacityAsync(FilePool pool)
    {
        for (int i = 0; i < 1_000 && pool.OpenCount > pool.Capacity; i++) await Task.Delay(10);
        return pool.OpenCount <= pool.Capacity;
    }

    private static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;
}
