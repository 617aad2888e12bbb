using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Udp;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;

namespace Appliance.Trackers.Announcing;

/// <summary>
/// BEP 15 client over one UDP port shared by every torrent (a <see cref="DatagramEndpoint"/>, dual-stack where IPv6 is
/// available, so an IPv4 tracker is sent IPv4 datagrams from an IPv4 source): one connection id per tracker address (reused for a minute by all torrents;
/// a dual-stack tracker has one per family, as its ids are tied to our source address), transaction ids checked against
/// the sender, retransmission after Base·2^n.
/// </summary>
public sealed class UdpTrackerClient : IDatagramHandler, IAsyncDisposable
{
    public static readonly TimeSpan ConnectionIdLifetime = TimeSpan.FromMinutes(1);

    private readonly AnnouncerOptions _options;
    private readonly TimeProvider _time;
    private readonly DatagramEndpoint _endpoint;
    private readonly ConcurrentDictionary<int, Pending> _pending = new();
    private readonly ConcurrentDictionary<IPEndPoint, TrackerConnection> _connections = new();
    private readonly TrackerResolver _resolver;
    private long _unmatched;
    private long _connects;

    public UdpTrackerClient(AnnouncerOptions options, TimeProvider? time = null, TrackerResolver? resolver = null)
    {
        _options = options;
        _time = time ?? TimeProvider.System;
        _resolver = resolver ?? new TrackerResolver(options, _time);
        _endpoint = CreateEndpoint();
        _endpoint.Start(this, "udp-tracker-client");
    }

    /// <summary>Datagrams dropped because no request was waiting for their transaction id from that address.</summary>
    public long UnmatchedResponses => Interlocked.Read(ref _unmatched);

    /// <summary>Connects done so far (one per tracker per minute however many torrents announce).</summary>
    public long Connects => Interlocked.Read(ref _connects);

    private static DatagramEndpoint CreateEndpoint()
    {
        try
        {
            return new DatagramEndpoint(new IPEndPoint(IPAddress.IPv6Any, 0)); // dual-stack
        }
        catch (SocketException)
        {
            return new DatagramEndpoint(new IPEndPoint(IPAddress.Any, 0));
        }
    }

    /// <summary>Announces to the tracker's IPv4 address if it has one, else to its IPv6 one.</summary>
    public Task<AnnounceResponse> AnnounceAsync(string url, AnnounceRequest request, CancellationToken cancellationToken) =>
        AnnounceAsync(url, null, request, cancellationToken);

    /// <summary>Announces to the tracker's address in <paramref name="family"/> (BEP 15: an IPv6 tracker answers with 18-byte peers).</summary>
    public async Task<AnnounceResponse> AnnounceAsync(string url, AddressFamily? family, AnnounceRequest request, CancellationToken cancellationToken)
    {
        var connection = await ResolveAsync(url, family, cancellationToken).ConfigureAwait(false);
        var packet = new byte[UdpTrackerPacket.AnnounceRequestLength];
        var reply = await TransactAsync(connection, packet, (cid, tid) => UdpTrackerPacket.WriteAnnounceRequest(packet, cid, tid, request), cancellationToken).ConfigureAwait(false);
        UdpTrackerPacket.TryReadResponseHeader(reply, out var action, out _);
        if (action != UdpTrackerAction.Announce) throw new TrackerException($"unexpected action {(int)action} in announce response");
        if (!UdpTrackerPacket.TryReadAnnounceResponse(reply, connection.EndPoint.AddressFamily == AddressFamily.InterNetworkV6 && !connection.EndPoint.Address.IsIPv4MappedToIPv6,
            out var response, out string error)) throw new TrackerException(error);
        return response!;
    }

    public Task<Dictionary<InfoHash, ScrapeCounts>> ScrapeAsync(string url, IReadOnlyList<InfoHash> hashes, CancellationToken cancellationToken) =>
        ScrapeAsync(url, null, hashes, cancellationToken);

    public async Task<Dictionary<InfoHash, ScrapeCounts>> ScrapeAsync(string url, AddressFamily? family, IReadOnlyList<InfoHash> hashes, CancellationToken cancellationToken)
    {
        var asked = hashes.Take(UdpTrackerPacket.MaxScrapeHashes).ToArray();
        var connection = await ResolveAsync(url, family, cancellationToken).ConfigureAwait(false);
        var packet = new byte[UdpTrackerPacket.ScrapeRequestHeaderLength + asked.Length * InfoHash.Length];
        var reply = await TransactAsync(connection, packet, (cid, tid) => UdpTrackerPacket.WriteScrapeRequest(packet, cid, tid, asked), cancellationToken).ConfigureAwait(false);
        UdpTrackerPacket.TryReadResponseHeader(reply, out var action, out _);
        var counts = new Dictionary<InfoHash, ScrapeCounts>();
        if (action != UdpTrackerAction.Scrape || !UdpTrackerPacket.TryReadScrapeResponse(reply, asked, counts))
            throw new TrackerException("malformed scrape response");
        return counts;
    }

    /// <summary>
    /// Sends a request built by <paramref name="build"/> (given a fresh connection id and transaction id) and waits for the
    /// matching response; attempt n waits Base·2^n. An expired connection id is renewed before a retransmission.
    /// </summary>
    private async Task<byte[]> TransactAsync(TrackerConnection connection, byte[] packet, Func<long, int, int> build, CancellationToken cancellationToken)
    {
        for (int attempt = 0; attempt < _options.UdpAttempts; attempt++)
        {
            long connectionId = await connection.GetIdAsync(this, attempt, cancellationToken).ConfigureAwait(false);
            var timeout = _options.UdpBaseTimeout * Math.Pow(2, attempt);
            byte[]? reply = await ExchangeAsync(connection.EndPoint, tid => packet.AsMemory(0, build(connectionId, tid)), timeout, cancellationToken).ConfigureAwait(false);
            if (reply is null)
            {
                // Trackers drop requests with an unknown connection id without a word (ours, opentracker): the id may be
                // stale after the tracker restarted, so the retransmission connects first.
                connection.Invalidate(connectionId);
                continue;
            }
            UdpTrackerPacket.TryReadResponseHeader(reply, out var action, out _);
            if (action == UdpTrackerAction.Error)
            {
                string message = UdpTrackerPacket.ReadErrorMessage(reply);
                // The id may have expired on the tracker's side (its clock, its restart): get a new one next time.
                connection.Invalidate(connectionId);
                throw new TrackerException("tracker error: " + message);
            }
            return reply;
        }
        throw new TrackerException($"no answer after {_options.UdpAttempts} attempts", timedOut: true);
    }

    /// <summary>Sends once and waits up to <paramref name="timeout"/> for a reply with the same transaction id from the tracker's address.</summary>
    internal async Task<byte[]?> ExchangeAsync(IPEndPoint endPoint, Func<int, ReadOnlyMemory<byte>> build, TimeSpan timeout, CancellationToken cancellationToken)
    {
        int tid;
        var target = _endpoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.AddressFamily == AddressFamily.InterNetwork
            ? new IPEndPoint(endPoint.Address.MapToIPv6(), endPoint.Port)
            : endPoint;
        var pending = new Pending(target.Serialize());
        do tid = Random.Shared.Next(int.MinValue, int.MaxValue);
        while (!_pending.TryAdd(tid, pending));
        try
        {
            if (!_endpoint.Send(build(tid).Span, pending.Address)) throw new TrackerException("UDP send failed");
            try
            {
                return await pending.Reply.Task.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return null;
            }
        }
        finally
        {
            _pending.TryRemove(tid, out _);
        }
    }

    private async Task<TrackerConnection> ResolveAsync(string url, AddressFamily? family, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != "udp" || uri.Port <= 0)
            throw new TrackerException($"not a udp://host:port tracker URL");
        var addresses = await _resolver.ResolveAsync(uri.Host, cancellationToken).ConfigureAwait(false);
        var address = family is { } wanted
            ? addresses.FirstOrDefault(a => TrackerResolver.FamilyOf(a) == wanted)
                ?? throw new TrackerException($"{uri.Host} has no {HttpTrackerClient.FamilyName(wanted)} address")
            : addresses.FirstOrDefault(a => TrackerResolver.FamilyOf(a) == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new TrackerException($"{uri.Host} has no address");
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && _endpoint.AddressFamily != AddressFamily.InterNetworkV6)
            throw new TrackerException($"cannot reach {uri.Host} over IPv6: IPv6 is unavailable");
        var endPoint = new IPEndPoint(address, uri.Port);
        return _connections.GetOrAdd(endPoint, e => new TrackerConnection(e, _time));
    }

    /// <summary>On the endpoint's receive thread: a reply completes the request with its transaction id, if it came from where that request went.</summary>
    void IDatagramHandler.OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source)
    {
        if (!UdpTrackerPacket.TryReadResponseHeader(datagram, out _, out int tid)
            || !_pending.TryGetValue(tid, out var pending)
            || !SameAddress(source, pending.Address))
        {
            Interlocked.Increment(ref _unmatched);
            return;
        }
        pending.Reply.TrySetResult(datagram.ToArray());
    }

    /// <summary>Port and address of two sockaddrs of one family (flow label and scope left aside).</summary>
    private static bool SameAddress(SocketAddress a, SocketAddress b)
    {
        if (a.Family != b.Family) return false;
        var x = a.Buffer.Span;
        var y = b.Buffer.Span;
        // sockaddr_in: port at 2, address at 4..8; sockaddr_in6: port at 2, address at 8..24.
        var (start, end) = a.Family == AddressFamily.InterNetworkV6 ? (8, 24) : (4, 8);
        if (a.Size < end || b.Size < end) return false;
        return x[2..4].SequenceEqual(y[2..4]) && x[start..end].SequenceEqual(y[start..end]);
    }

    public ValueTask DisposeAsync()
    {
        _endpoint.Dispose();
        foreach (var pending in _pending.Values) pending.Reply.TrySetCanceled();
        return ValueTask.CompletedTask;
    }

    private sealed class Pending(SocketAddress address)
    {
        public SocketAddress Address { get; } = address;
        public TaskCompletionSource<byte[]> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
    /// <summary>One tracker's connection id, shared by all torrents; only one connect is in flight at a time.</summary>
    private sealed class TrackerConnection(IPEndPoint endPoint, TimeProvider time)
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private long _id;
        private long _obtainedAt;
        private bool _valid;

        public IPEndPoint EndPoint { get; } = endPoint;

        public void Invalidate(long id)
        {
            lock (this) if (_id == id) _valid = false;
        }

        public async Task<long> GetIdAsync(UdpTrackerClient client, int attempt, CancellationToken cancellationToken)
        {
            if (TryGetFresh(out long id)) return id;
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (TryGetFresh(out id)) return id;
                var packet = new byte[UdpTrackerPacket.ConnectLength];
                for (int n = attempt; n < client._options.UdpAttempts; n++)
                {
                    var timeout = client._options.UdpBaseTimeout * Math.Pow(2, n);
                    var reply = await client.ExchangeAsync(EndPoint, tid => packet.AsMemory(0, UdpTrackerPacket.WriteConnectRequest(packet, tid)), timeout, cancellationToken).ConfigureAwait(false);
                    if (reply is null) continue;
                    UdpTrackerPacket.TryReadResponseHeader(reply, out var action, out _);
                    if (action == UdpTrackerAction.Error) throw new TrackerException("tracker error on connect: " + UdpTrackerPacket.ReadErrorMessage(reply));
                    if (action != UdpTrackerAction.Connect || !UdpTrackerPacket.TryReadConnectResponse(reply, out id))
                        throw new TrackerException("malformed connect response");
                    Interlocked.Increment(ref client._connects);
                    lock (this)
                    {
                        _id = id;
                        _obtainedAt = time.GetTimestamp();
                        _valid = true;
                    }
                    return id;
                }
                throw new TrackerException($"no answer to connect after {client._options.UdpAttempts} attempts", timedOut: true);
            }
            finally
            {
                _gate.Release();
            }
        }

        private bool TryGetFresh(out long id)
        {
            lock (this)
            {
                id = _id;
                return _valid && time.GetElapsedTime(_obtainedAt) < ConnectionIdLifetime;
            }
        }
    }
}
