using Microsoft.Extensions.ObjectPool;

namespace Appliance.Seeding.Upload;

/// <summary>
/// The pooled send batches. A batch is held for as long as its send waits for the peer's socket buffer, and at
/// thousands of peers under the kernel's TCP memory pressure nearly every send waits at once (a profile at 10,000 peers
/// found a pool of 256 allocating a batch per send: 35 MB/s, about a quarter of the seeder's CPU zeroing memory). So the
/// pool keeps as many as that many peers held at once, up to <see cref="Retained"/> (about 11 KB each: 45 MB at most,
/// reached only after such a load).
/// </summary>
internal sealed class SendBatchPool
{
    public const int Retained = 4096;

    private readonly ObjectPool<SendBatch> _pool = new DefaultObjectPool<SendBatch>(new DefaultPooledObjectPolicy<SendBatch>(), Retained);

    public SendBatch Rent() => _pool.Get();

    /// <summary>Takes back a batch <see cref="SendBatch.Reset"/> has emptied.</summary>
    public void Return(SendBatch batch) => _pool.Return(batch);
}
