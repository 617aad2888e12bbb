using System.Net;
using Appliance.Networking.Udp;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// One receive thread of the UDP tracker: each datagram of a received batch is answered straight into the next slot of
/// a reply batch, and the replies of the whole batch leave with one <c>sendmmsg</c>. Nothing is allocated per packet.
/// </summary>
internal sealed class UdpTrackerWorker(UdpTrackerServer server, DatagramEndpoint endpoint) : IDatagramHandler
{
    private readonly DatagramBatch _replies = new(DatagramEndpoint.ReceiveBatch, UdpTrackerServer.MaxReplyBytes);

    public void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source)
    {
        if (!UdpTrackerServer.TryReadSource(source, out var client)) return;
        int length = server.Handle(datagram, client, _replies.Next);
        if (length > 0) _replies.Add(length, source);
        if (_replies.IsFull) OnBatchEnd();
    }

    public void OnBatchEnd()
    {
        if (_replies.Count == 0) return;
        endpoint.Send(_replies);
        _replies.Clear();
    }
}
