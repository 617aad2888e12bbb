using System.Runtime.InteropServices;
using Appliance.Networking.Buffers;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Sessions;
using Appliance.Seeding.Tests.Support;
using Appliance.Seeding.Upload;
using Appliance.Storage;
using Appliance.Storage.Pool;

namespace Appliance.Seeding.Tests.Upload;

/// <summary>Batches are sized for blocks over one or two files; blocks over many tiny files still go out whole and right.</summary>
[Collection(nameof(DescriptorCollection))]
public sealed class SendBatchVectorTests
{
    private const int Block = 16 * 1024;
    private const int Blocks = 16;

    [Fact]
    public async Task A_batch_of_blocks_over_many_small_files_reads_the_blocks_its_vectors_cannot_hold()
    {
        // 2,000-byte files: every 16 KiB block spans 9 or 10 of them, so 16 blocks as mapped segments would need about
        // 170 vectors; a batch made for 16 blocks has 65.
        var files = Enumerable.Range(0, 200).Select(i => ($"tiny/f{i:D4}.bin", 2_000)).ToList();
        await using var seeder = await FileSeeder.StartAsync(files, TorrentFormat.V1, Block, StorageKind.Mapped, new SeedingOptions { UploadSlots = 0 }, new FilePool(512));
        byte[] data = [.. seeder.Metainfo.Files.SelectMany(f => seeder.Files[f.Path])];
        var readPool = new PinnedBufferPool(256 * 1024, 4);
        var batch = new SendBatch(Blocks);
        Assert.Equal(Blocks, batch.BlockCapacity);
        for (int piece = 0; piece < Blocks; piece++)
        {
            Assert.True(batch.CanAdd(Block, readBufferSize: 0));
            batch.Add(new QueuedRequest(new BlockRequest(piece, 0, Block), 0));
        }
        Assert.False(batch.CanAdd(Block, readBufferSize: 0), "the batch holds 16 blocks at most");

        Assert.True(batch.Prepare(seeder.Store, readPool));

        Assert.True(batch.VectorCount <= SendBatch.VectorCapacityFor(Blocks));
        // The first blocks went out as views of the mapping (several parts each), the last ones as one read buffer each.
        Assert.True(batch.VectorCount > 2 * Blocks, $"{batch.VectorCount} vectors: no block was sent as mapped segments");
        Assert.True(readPool.Rented > 0, "no block was read into a buffer");
        var wire = batch.Parts.ToArray().SelectMany(p => p.ToArray()).ToArray();
        Assert.Equal(batch.TotalBytes, wire.Length);
        for (int piece = 0, offset = 0; piece < Blocks; piece++, offset += 13 + Block)
        {
            Assert.Equal(piece, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(wire.AsSpan(offset + 5)));
            Assert.True(data.AsSpan(piece * Block, Block).SequenceEqual(wire.AsSpan(offset + 13, Block)), $"block {piece} differs");
        }

        batch.Reset(new PinnedBufferPool(SeedingServer.SmallBufferSize, 1));
        Assert.Equal(0, readPool.Rented);
    }

    [Fact]
    public void Thousands_of_batches_held_at_once_are_all_reused_after_they_come_back()
    {
        // At thousands of peers under kernel memory pressure nearly every send waits, each holding its batch.
        var pool = new SendBatchPool();
        var first = Enumerable.Range(0, SendBatchPool.Retained).Select(_ => pool.Rent()).ToList();
        foreach (var batch in first) pool.Return(batch);
        var second = Enumerable.Range(0, SendBatchPool.Retained).Select(_ => pool.Rent()).ToList();
        Assert.Equal(first.ToHashSet(ReferenceEqualityComparer.Instance).Count, second.Intersect(first, ReferenceEqualityComparer.Instance).Count());
    }
}
