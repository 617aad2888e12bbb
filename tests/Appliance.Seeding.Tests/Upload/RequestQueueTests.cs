using Appliance.Protocol.PeerWire;
using Appliance.Seeding.Upload;

namespace Appliance.Seeding.Tests.Upload;

public sealed class RequestQueueTests
{
    private static QueuedRequest Request(int piece, long arrived = 0) => new(new BlockRequest(piece, 0, 16384), arrived);

    [Fact]
    public void Requests_come_out_in_arrival_order_and_a_cancel_drops_the_oldest_copy()
    {
        var queue = new RequestQueue(8);
        Assert.True(queue.TryEnqueue(Request(1, arrived: 10)));
        Assert.True(queue.TryEnqueue(Request(2, arrived: 20)));
        Assert.True(queue.TryEnqueue(Request(1, arrived: 30)));
        Assert.True(queue.TryEnqueue(Request(3, arrived: 40)));

        Assert.True(queue.Remove(new BlockRequest(1, 0, 16384)));
        Assert.False(queue.Remove(new BlockRequest(9, 0, 16384)));
        Assert.Equal(3, queue.Count);
        Assert.Equal(Request(2, 20), queue.Peek());
        Assert.Equal(Request(2, 20), queue.Dequeue());
        Assert.Equal(Request(1, 30), queue.Dequeue());
        Assert.True(queue.Remove(new BlockRequest(3, 0, 16384)));
        Assert.False(queue.Remove(new BlockRequest(3, 0, 16384)));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void Cancelled_entries_never_take_room_from_live_ones()
    {
        var queue = new RequestQueue(4);
        for (int round = 0; round < 50; round++)
        {
            for (int i = 0; i < 4; i++) Assert.True(queue.TryEnqueue(Request(round * 4 + i)));
            Assert.False(queue.TryEnqueue(Request(-1)));
            for (int i = 0; i < 3; i++) Assert.True(queue.Remove(new BlockRequest(round * 4 + i, 0, 16384)));
            Assert.Equal(Request(round * 4 + 3), queue.Dequeue());
            Assert.Equal(0, queue.Count);
        }
        // A peer that never lets the head move: live requests stay, cancelled ones are compacted away.
        Assert.True(queue.TryEnqueue(Request(1000)));
        for (int i = 0; i < 100; i++)
        {
            Assert.True(queue.TryEnqueue(Request(2000 + i)));
            Assert.True(queue.Remove(new BlockRequest(2000 + i, 0, 16384)));
        }
        Assert.Equal(1, queue.Count);
        Assert.Equal(Request(1000), queue.Dequeue());
    }

    [Fact]
    public void A_burst_of_cancels_costs_constant_time_each()
    {
        // Scanning the queue for each cancel would take about 10^10 steps here (minutes); the index takes milliseconds.
        const int Depth = 200_000;
        var queue = new RequestQueue(Depth);
        var run = Task.Run(() =>
        {
            for (int i = 0; i < Depth; i++) queue.TryEnqueue(Request(i));
            for (int i = Depth - 1; i >= 0; i--) Assert.True(queue.Remove(new BlockRequest(i, 0, 16384)));
        });
        Assert.True(run.Wait(TimeSpan.FromSeconds(60)), "cancels took more than constant time");
        Assert.Equal(0, queue.Count);
    }
    [Fact]
    public void Requests_keep_arrival_order_while_the_ring_grows_around_its_end()
    {
        var queue = new RequestQueue(500);
        int next = 0, expected = 0;
        // Move the head past the start of the first (small) ring, then deepen the pipeline so it grows while wrapped.
        for (int i = 0; i < 10; i++) Assert.True(queue.TryEnqueue(Request(next++)));
        for (int i = 0; i < 7; i++) Assert.Equal(Request(expected++), queue.Dequeue());
        for (int i = 0; i < 300; i++) Assert.True(queue.TryEnqueue(Request(next++)));
        Assert.Equal(303, queue.Count);
        while (queue.Count > 0) Assert.Equal(Request(expected++), queue.Dequeue());
        Assert.Equal(next, expected);
    }

    [Fact]
    public void The_first_cancel_finds_every_copy_queued_before_it()
    {
        var queue = new RequestQueue(100);
        for (int i = 0; i < 40; i++) Assert.True(queue.TryEnqueue(Request(i % 10, arrived: i)));
        // Four copies of each block; cancelling piece 3 three times leaves only its newest copy.
        for (int i = 0; i < 3; i++) Assert.True(queue.Remove(new BlockRequest(3, 0, 16384)));
        Assert.True(queue.TryEnqueue(Request(3, arrived: 99)));
        Assert.Equal(38, queue.Count);
        var order = new List<QueuedRequest>();
        while (queue.Count > 0) order.Add(queue.Dequeue());
        Assert.Equal([Request(3, 33), Request(3, 99)], order.Where(r => r.Block.Piece == 3));
        Assert.Equal(order.OrderBy(r => r.ArrivedAt), order);
    }

    [Fact]
    public void A_pipelined_peer_owns_a_ring_sized_to_its_pipeline_and_allocates_nothing_once_it_has_grown()
    {
        // 128 requests in flight under a limit of 500: the ring grows to 128 slots (3 KiB), not 1,000 (24 KiB),
        // and serving thousands of blocks after that allocates nothing.
        const int InFlight = 128;
        long start = GC.GetAllocatedBytesForCurrentThread();
        var queue = new RequestQueue(500);
        int next = 0;
        for (int i = 0; i < InFlight; i++) queue.TryEnqueue(Request(next++));
        long grown = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20_000; i++)
        {
            queue.Dequeue();
            queue.TryEnqueue(Request(next++));
        }
        long end = GC.GetAllocatedBytesForCurrentThread();
        Assert.InRange(grown - start, 1, 8 * 1024);
        Assert.Equal(0, end - grown);
    }
}
