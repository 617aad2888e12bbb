using Microsoft.Extensions.ObjectPool;

namespace Appliance.Seeding.Upload;

/// <summary>
/// Send batches in two sizes: full ones (<see cref="SendBatch.MaxBlocks"/> blocks) while few peers are unchoked, and
/// crowded ones (<see cref="SendBatch.CrowdedBatchBlocks"/> blocks, a quarter of the memory) past
/// <see cref="SendBatch.CrowdedPeers"/>. A batch is held for as long as its send waits for the peer's socket buffer,
/// and at thousands of peers under kernel memory pressure nearly every send waits: so the crowded pool keeps as many as
/// that many peers hold at once (up to <see cref="CrowdedRetained"/>), instead of allocating a batch per send.
/// </summary>
internal sealed class SendBatchPool
{
    public const int FullRetained = 256;
    public const int CrowdedRetained = 8192;

    private readonly ObjectPool<SendBatch> _full = new DefaultObjectPool<SendBatch>(new Policy(SendBatch.MaxBlocks), FullRetained);
    private readonly ObjectPool<SendBatch> _crowded = new DefaultObjectPool<SendBatch>(new Policy(SendBatch.CrowdedBatchBlocks), CrowdedRetained);

    /// <summary>A batch for up to <paramref name="blockLimit"/> blocks (see <see cref="SendBatch.BlockLimit"/>).</summary>
    public SendBatch Rent(int blockLimit = SendBatch.MaxBlocks) => blockLimit <= SendBatch.CrowdedBatchBlocks ? _crowded.Get() : _full.Get();

    /// <summary>Takes back a batch <see cref="SendBatch.Reset"/> has emptied.</summary>
    public void Return(SendBatch batch) => (batch.BlockCapacity <= SendBatch.CrowdedBatchBlocks ? _crowded : _full).Return(batch);

    private sealed class Policy(int blocks) : PooledObjectPolicy<SendBatch>
    {
        public override SendBatch Create() => new(blocks);

        public override bool Return(SendBatch batch) => true;
    }
}
