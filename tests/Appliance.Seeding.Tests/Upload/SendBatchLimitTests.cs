using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Upload;

namespace Appliance.Seeding.Tests.Upload;

public sealed class SendBatchLimitTests
{
    [Theory]
    [InlineData(16)]
    [InlineData(SendBatch.MaxBlocks)]
    public void A_batch_takes_at_most_the_blocks_it_was_made_for(int blocks)
    {
        var batch = blocks == SendBatch.MaxBlocks ? new SendBatch() : new SendBatch(blocks);
        int added = 0;
        while (batch.CanAdd(16 * 1024, readBufferSize: 0))
        {
            batch.Add(new QueuedRequest(new BlockRequest(0, added * 16 * 1024, 16 * 1024), 0));
            added++;
        }
        Assert.Equal(blocks, added);
        Assert.Equal(blocks, batch.BlockCapacity);
    }
}
