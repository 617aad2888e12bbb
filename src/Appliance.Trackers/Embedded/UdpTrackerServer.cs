using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Udp;
using Appliance.Protocol.TrackerWire;
using Microsoft.Extensions.Logging;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// The BEP 15 front end of the embedded tracker. <see cref="Handle"/> is the whole protocol (packet in, reply out); the
/// shared <see cref="DatagramEndpoint"/> moves the datagrams in batches (<c>recvmmsg</c>, and <c>sendmmsg</c> for the
/// replies, see <see cref="UdpTrackerWorker"/>) and nothing is allocated per packet.
/// </summary>
public sealed class UdpTrackerServer : IAsyncDisposable
{
    public const int MaxReplyBytes = 1500;

    private readonly SwarmStore _store;
    private readonly ConnectionIdIssuer _ids;
    private readonly TrackerCounters _counters;
    private readonly ILogger _logger;
    private DatagramEndpoint[] _endpoints = [];

    public UdpTrackerServer(SwarmStore store, ConnectionIdIssuer ids, TrackerCounters counters, ILogger logger)
    {
        _store = store;
        _ids = ids;
        _counters = counters;
        _logger = logger;
    }

    public IPEndPoint LocalEndPoint => _endpoints.Length > 0 ? _endpoints[0].LocalEndPoint : throw new InvalidOperationException("not started");

    /// <summary>
    /// Binds <paramref name="workers"/> sockets to the port, each with its own receive thread. More than one shares the
    /// port with SO_REUSEPORT (Linux), and the kernel spreads clients across them by source address.
    /// </summary>
    public void Start(IPEndPoint endPoint, int workers)
    {
        if (_endpoints.Length > 0) throw new InvalidOperationException("already started");
        workers = Math.Max(1, workers);
        if (workers > 1 && !DatagramEndpoint.SupportsReusePort) workers = 1;
        // A socket with SO_REUSEPORT joins any group on the port that another process of the same user made with it,
        // so a second appliance would silently take a share of the announces; a plain bind first refuses a port in use.
        if (workers > 1) endPoint = ClaimPort(endPoint);
        var endpoints = new List<DatagramEndpoint>(workers);
        try
        {
            for (int i = 0; i < workers; i++)
            {
                // The first socket takes the port (when 0 was asked for), the others join it.
                var at = i == 0 ? endPoint : new IPEndPoint(endPoint.Address, endpoints[0].LocalEndPoint.Port);
                endpoints.Add(new DatagramEndpoint(at, _logger, reusePort: workers > 1));
            }
        }
        catch
        {
            foreach (var endpoint in endpoints) endpoint.Dispose();
            throw;
        }
        _endpoints = [.. endpoints];
        for (int i = 0; i < _endpoints.Length; i++)
            _endpoints[i].Start(new UdpTrackerWorker(this, _endpoints[i]), "tracker-udp-" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    // Binds and releases a plain socket: fails with "address in use" if anything holds the port; the chosen port when 0.
    private static IPEndPoint ClaimPort(IPEndPoint endPoint)
    {
        using var probe = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(endPoint);
        return (IPEndPoint)probe.LocalEndPoint!;
    }

    /// <summary>Closes the sockets and waits (within the token) for the receive threads to end.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var endpoints = Interlocked.Exchange(ref _endpoints, []);
        if (endpoints.Length == 0) return;
        try
        {
            await Task.WhenAll(endpoints.Select(endpoint => Task.Run(endpoint.Dispose, CancellationToken.None))).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync(CancellationToken.None));

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
            _counters.Increment(TrackerCounter.EmbeddedUdpRejected);
            return 0;
        }
        Span<byte> client = stackalloc byte[18];
        int clientLength = source.WriteCompact(client);
        client = client[..clientLength];
        if (action == UdpTrackerAction.Connect)
        {
            if (!UdpTrackerPacket.TryReadConnectRequest(packet, out _))
            {
                _counters.Increment(TrackerCounter.EmbeddedUdpRejected);
                return 0;
            }
            _counters.Increment(TrackerCounter.EmbeddedUdpConnects);
            return UdpTrackerPacket.WriteConnectResponse(reply, transactionId, _ids.Issue(client));
        }
        if (!_ids.IsValid(connectionId, client))
        {
            // No reply: the source address of a datagram without a valid id is unproven, and an error reply would let
            // a forged 16-byte packet send 2.5 times its size to someone else. A client with an expired id times out
            // and connects again (BEP 15).
            _counters.Increment(TrackerCounter.EmbeddedUdpRejected);
            return 0;
        }
        switch (action)
        {
            case UdpTrackerAction.Announce:
                return Announce(packet, source, reply);
            case UdpTrackerAction.Scrape:
                _counters.Increment(TrackerCounter.EmbeddedUdpScrapes);
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
                _counters.Increment(TrackerCounter.EmbeddedUdpRejected);
                return UdpTrackerPacket.WriteError(reply, transactionId, "unknown action");
        }
    }

    private int Announce(ReadOnlySpan<byte> packet, PeerAddress source, Span<byte> reply)
    {
        if (!UdpTrackerPacket.TryReadAnnounceRequest(packet, out var request))
        {
            _counters.Increment(TrackerCounter.EmbeddedUdpRejected);
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
            _counters.Increment(TrackerCounter.EmbeddedUdpRejected);
            return 0;
        }
        if (answer.Status != AnnounceStatus.Ok)
        {
            _counters.Increment(TrackerCounter.EmbeddedUdpRejected);
            return UdpTrackerPacket.WriteError(reply, request.TransactionId, answer.Status == AnnounceStatus.NotTracked
                ? "torrent not tracked here" : "tracker is full");
        }
        _counters.Increment(TrackerCounter.EmbeddedUdpAnnounces);
        UdpTrackerPacket.WriteAnnounceResponseHeader(reply, request.TransactionId, (int)_store.Options.Interval.TotalSeconds,
            answer.Incomplete, answer.Complete);
        return UdpTrackerPacket.AnnounceResponseHeaderLength + answer.V4Bytes + answer.V6Bytes;
    }

    private static int UdpTransaction(ReadOnlySpan<byte> packet) =>
        UdpTrackerPacket.TryReadRequestAction(packet, out _, out _, out int transactionId) ? transactionId : 0;
}
