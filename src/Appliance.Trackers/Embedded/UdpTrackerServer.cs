using System.Net;
using System.Net.Sockets;
using Appliance.Protocol.TrackerWire;
using Microsoft.Extensions.Logging;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// The BEP 15 front end of the embedded tracker. <see cref="Handle"/> is the whole protocol (packet in, reply out);
/// the receive loops around it only move datagrams and allocate nothing per packet.
/// </summary>
public sealed class UdpTrackerServer : IAsyncDisposable
{
    public const int MaxReplyBytes = 1500;

    private readonly SwarmStore _store;
    private readonly ConnectionIdIssuer _ids;
    private readonly TrackerCounters _counters;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _socket;
    private Task[] _loops = [];

    public UdpTrackerServer(SwarmStore store, ConnectionIdIssuer ids, TrackerCounters counters, ILogger logger)
    {
        _store = store;
        _ids = ids;
        _counters = counters;
        _logger = logger;
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)(_socket?.LocalEndPoint ?? throw new InvalidOperationException("not started"));

    public void Start(IPEndPoint endPoint, int receiveLoops)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any)) socket.DualMode = true;
            socket.ReceiveBufferSize = 4 * 1024 * 1024;
            socket.Bind(endPoint);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        socket.ReceiveTimeout = 500;
        _socket = socket;
        _loops = Enumerable.Range(0, Math.Max(1, receiveLoops)).Select(i =>
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var thread = new Thread(() =>
            {
                try { ReceiveLoop(socket); }
                finally { done.TrySetResult(); }
            })
            { IsBackground = true, Name = "tracker-udp-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            thread.Start();
            return done.Task;
        }).ToArray();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stopping.IsCancellationRequested) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket?.Dispose();
        try
        {
            await Task.WhenAll(_loops).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }

    // A blocking loop per dedicated thread: for small request/reply datagrams this costs far less per packet than
    // async receive and send (no completion dispatch, no state machine), which is what tracker throughput is made of.
    private void ReceiveLoop(Socket socket)
    {
        var receive = new byte[2048];
        var reply = new byte[MaxReplyBytes];
        var address = new SocketAddress(socket.AddressFamily);
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                int n = socket.ReceiveFrom(receive, SocketFlags.None, address);
                if (!TryReadSource(address, out var source)) continue;
                int length = Handle(receive.AsSpan(0, n), source, reply);
                if (length > 0) socket.SendTo(reply.AsSpan(0, length), SocketFlags.None, address);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                // periodic wake-up to notice a stop
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize or SocketError.HostUnreachable
                or SocketError.NetworkUnreachable or SocketError.ConnectionRefused)
            {
                // ICMP errors from one client's earlier reply, or an oversized datagram: that client's problem only.
            }
            catch (SocketException e)
            {
                if (_stopping.IsCancellationRequested) return;
                TrackerLog.UdpReceiveFailed(_logger, e);
                Thread.Sleep(10);
            }
        }
    }

    /// <summary>Reads the source address from the raw sockaddr (Linux layout) without allocating an IPEndPoint.</summary>
    internal static bool TryReadSource(SocketAddress address, out PeerAddress source)
    {
        var raw = address.Buffer.Span;
        ushort port = (ushort)((raw[2] << 8) | raw[3]);
        if (address.Family == AddressFamily.InterNetwork)
        {
            source = PeerAddress.FromV4(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(raw[4..]), port);
            return true;
        }
        if (address.Family == AddressFamily.InterNetworkV6)
        {
            source = PeerAddress.FromV6Bytes(raw.Slice(8, 16), port);
            return true;
        }
        source = default;
        return false;
    }

    /// <summary>Handles one datagram from <paramref name="source"/>; returns the reply length (0: no reply).</summary>
    public int Handle(ReadOnlySpan<byte> packet, PeerAddress source, Span<byte> reply)
    {
        if (!UdpTrackerPacket.TryReadRequestAction(packet, out var action, out long connectionId, out int transactionId))
        {
            Interlocked.Increment(ref _counters.EmbeddedUdpRejected);
            return 0;
        }
        Span<byte> client = stackalloc byte[18];
        int clientLength = source.WriteCompact(client);
        client = client[..clientLength];
        if (action == UdpTrackerAction.Connect)
        {
            if (!UdpTrackerPacket.TryReadConnectRequest(packet, out _))
            {
                Interlocked.Increment(ref _counters.EmbeddedUdpRejected);
                return 0;
            }
            Interlocked.Increment(ref _counters.EmbeddedUdpConnects);
            return UdpTrackerPacket.WriteConnectResponse(reply, transactionId, _ids.Issue(client));
        }
        if (!_ids.IsValid(connectionId, client))
        {
            // No reply: the source address of a datagram without a valid id is unproven, and an error reply would let
            // a forged 16-byte packet send 2.5 times its size to someone else. A client with an expired id times out
            // and connects again (BEP 15).
            Interlocked.Increment(ref _counters.EmbeddedUdpRejected);
            return 0;
        }
        switch (action)
        {
            case UdpTrackerAction.Announce:
                return Announce(packet, source, reply);
            case UdpTrackerAction.Scrape:
                Interlocked.Increment(ref _counters.EmbeddedUdpScrapes);
                int count = UdpTrackerPacket.ScrapeRequestHashCount(packet);
                int length = UdpTrackerPacket.WriteScrapeResponseHeader(reply, transactionId);
                for (int i = 0; i < count; i++)
                {
                    var hash = UdpTrackerPacket.ScrapeRequestHash(packet, i);
                    var counts = _store.IsTracked(hash) ? _store.Scrape(hash) : default;
                    length += UdpTrackerPacket.WriteScrapeEntry(reply[length..], counts);
                }
                return length;
            default:
                Interlocked.Increment(ref _counters.EmbeddedUdpRejected);
                return UdpTrackerPacket.WriteError(reply, transactionId, "unknown action");
        }
    }

    private int Announce(ReadOnlySpan<byte> packet, PeerAddress source, Span<byte> reply)
    {
        if (!UdpTrackerPacket.TryReadAnnounceRequest(packet, out var request))
        {
            Interlocked.Increment(ref _counters.EmbeddedUdpRejected);
            return UdpTrackerPacket.WriteError(reply, UdpTransaction(packet), "malformed announce");
        }
        var peer = request.Port == 0 ? source : source.WithPort(request.Port);
        var peers = reply[UdpTrackerPacket.AnnounceResponseHeaderLength..];
        // BEP 15: the peer list's address family is the one the request came over.
        var answer = source.IsV6
            ? _store.Announce(request.InfoHash, peer, request.Left == 0, request.Event, request.NumWant, default, peers)
            : _store.Announce(request.InfoHash, peer, request.Left == 0, request.Event, request.NumWant, peers, default);
        if (answer.Status == AnnounceStatus.RateLimited)
        {
            Interlocked.Increment(ref _counters.EmbeddedUdpRejected);
            return 0;
        }
        if (answer.Status != AnnounceStatus.Ok)
        {
            Interlocked.Increment(ref _counters.EmbeddedUdpRejected);
            return UdpTrackerPacket.WriteError(reply, request.TransactionId, answer.Status == AnnounceStatus.NotTracked
                ? "torrent not tracked here" : "tracker is full");
        }
        Interlocked.Increment(ref _counters.EmbeddedUdpAnnounces);
        UdpTrackerPacket.WriteAnnounceResponseHeader(reply, request.TransactionId, (int)_store.Options.Interval.TotalSeconds,
            answer.Incomplete, answer.Complete);
        return UdpTrackerPacket.AnnounceResponseHeaderLength + answer.V4Bytes + answer.V6Bytes;
    }

    private static int UdpTransaction(ReadOnlySpan<byte> packet) =>
        UdpTrackerPacket.TryReadRequestAction(packet, out _, out _, out int transactionId) ? transactionId : 0;
}
