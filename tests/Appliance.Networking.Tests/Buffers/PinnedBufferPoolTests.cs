using Appliance.Networking.Buffers;

namespace Appliance.Networking.Tests.Buffers;

public sealed class PinnedBufferPoolTests
{
    [Fact]
    public void Returned_buffers_are_reused_and_counted()
    {
        var pool = new PinnedBufferPool(4096, maxRetained: 4);
        var first = pool.Rent();
        Assert.Equal(4096, first.Length);
        Assert.Equal(1, pool.Rented);
        pool.Return(first);
        Assert.Same(first, pool.Rent());
        Assert.Equal(1, pool.Created);
    }

    [Fact]
    public void Buffers_from_elsewhere_are_refused()
    {
        var pool = new PinnedBufferPool(4096, maxRetained: 4);
        Assert.Throws<ArgumentException>(() => pool.Return(new byte[100]));
    }
}
