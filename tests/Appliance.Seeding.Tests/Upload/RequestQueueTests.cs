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
}
