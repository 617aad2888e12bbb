using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Upload;

namespace Appliance.Seeding.Tests.Upload;

public sealed class SendBatchLimitTests
{
    [Theory]
    [InlineData(16, 16)]
    [InlineData(SendBatch.MaxBlocks, SendBatch.MaxBlocks)]
    [InlineData(1000, SendBatch.MaxBlocks)]
    public void A_batch_takes_at_most_its_block_limit(int limit, int expected)
    {
        var batch = new SendBatch();
        int added = 0;
        while (batch.CanAdd(16 * 1024, readBufferSize: 0, limit))
        {
            batch.Add(new QueuedRequest(new BlockRequest(0, added * 16 * 1024, 16 * 1024), 0));
            added++;
        }
        Assert.Equal(expected, added);
    }
}
