using System.Runtime.InteropServices;
using Appliance.Networking.Buffers;
using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Sessions;
using Appliance.Seeding.Tests.Support;
using Appliance.Seeding.Upload;

namespace Appliance.Seeding.Tests.Upload;

public sealed class SendBatchCopyTests
{
    [Fact]
    public async Task Copying_transports_get_blocks_read_into_pooled_buffers_never_views_of_the_store()
    {
        await using var seeder = new TestSeeder(new SeedingOptions { UploadSlots = 0 });
        var readPool = new PinnedBufferPool(256 * 1024, 4);
        var batch = new SendBatch();
        batch.Add(new QueuedRequest(new BlockRequest(1, 0, 16 * 1024), 0));
        batch.Add(new QueuedRequest(new BlockRequest(2, 16 * 1024, 16 * 1024), 0));

        Assert.True(batch.Prepare(seeder.Store, readPool, copyBlocks: true));

        // Header, block, header, block: each block one copy in a read buffer (the store would have given two views).
        Assert.Equal(4, batch.Parts.Length);
        for (int i = 1; i < 4; i += 2)
        {
            Assert.True(MemoryMarshal.TryGetArray(batch.Parts[i], out var segment));
            Assert.Equal(readPool.BufferSize, segment.Array!.Length);
        }
        var wire = batch.Parts.ToArray().SelectMany(p => p.ToArray()).ToArray();
        int pieceLength = seeder.Metainfo.PieceLength;
        Assert.Equal(seeder.Data.AsSpan(pieceLength, 16 * 1024).ToArray(), wire[13..(13 + 16 * 1024)]);
        Assert.Equal(seeder.Data.AsSpan(2 * pieceLength + 16 * 1024, 16 * 1024).ToArray(), wire[(26 + 16 * 1024)..]);
        Assert.Equal(1, readPool.Rented);

        batch.Reset(new PinnedBufferPool(SeedingServer.SmallBufferSize, 1));
        Assert.Equal(0, readPool.Rented);
    }
}
