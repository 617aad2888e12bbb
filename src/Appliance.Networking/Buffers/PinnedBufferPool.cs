using Microsoft.Extensions.ObjectPool;

namespace Appliance.Networking.Buffers;

/// <summary>
/// Fixed-size byte arrays allocated on the pinned object heap, reused through a bounded
/// <see cref="DefaultObjectPool{T}"/> (lock-free, allocation-free get/return). Pinned because the kernel reads and
/// writes them during socket operations and sendmsg takes their raw addresses; the pinned heap keeps them from
/// fragmenting the normal heap. Beyond <c>maxRetained</c> returned buffers are dropped for the GC.
/// </summary>
public sealed class PinnedBufferPool
{
    private readonly DefaultObjectPool<byte[]> _pool;
    private long _created;
    private long _rented;

    public PinnedBufferPool(int bufferSize, int maxRetained)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 1);
        BufferSize = bufferSize;
        _pool = new DefaultObjectPool<byte[]>(new Policy(this), maxRetained);
    }

    public int BufferSize { get; }

    /// <summary>Buffers ever created (a steadily growing number under steady load means a leak or too small a pool).</summary>
    public long Created => Interlocked.Read(ref _created);

    /// <summary>Buffers currently handed out.</summary>
    public long Rented => Interlocked.Read(ref _rented);

    public byte[] Rent()
    {
        Interlocked.Increment(ref _rented);
        return _pool.Get();
    }

    public void Return(byte[] buffer)
    {
        if (buffer.Length != BufferSize) throw new ArgumentException("buffer does not belong to this pool", nameof(buffer));
        Interlocked.Decrement(ref _rented);
        _pool.Return(buffer);
    }

    private sealed class Policy(PinnedBufferPool owner) : IPooledObjectPolicy<byte[]>
    {
        public byte[] Create()
        {
            Interlocked.Increment(ref owner._created);
            return GC.AllocateUninitializedArray<byte>(owner.BufferSize, pinned: true);
        }

        public bool Return(byte[] obj) => true;
    }
}
