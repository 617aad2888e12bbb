using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Appliance.Dht.Lookups;
using Appliance.Dht.Routing;
using Appliance.Networking.Udp;
using Appliance.Protocol.Krpc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Dht.Node;

/// <summary>
/// A DHT node on a UDP port (a <see cref="DatagramEndpoint"/>): its receive thread feeds KRPC (a bencoded dictionary,
/// first byte 'd') to the <see cref="DhtEngine"/> and every other datagram to <see cref="Passthrough"/> (uTP shares the
/// port), a timer drives the engine's timeouts and maintenance, and the routing table is saved to the state file.
/// One address family per node: an IPv6 node (BEP 32) binds IPv6 only, so an IPv4 node can share its port number.
/// </summary>
public sealed class DhtNode : IDatagramSender, IDatagramHandler, IAsyncDisposable
{
    private static readonly TimeSpan TickEvery = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan SaveEvery = TimeSpan.FromMinutes(10);

    private readonly DatagramEndpoint _endpoint;
    private readonly SocketAddress _sendAddress;
    // The replies to one received batch, sent with one sendmmsg at its end (receive thread only).
    private readonly DatagramBatch _replies = new(DatagramEndpoint.ReceiveBatch, DatagramEndpoint.MaxDatagram);
    private int _receiveThread;
    private readonly DhtNodeOptions _options;
    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private DateTimeOffset _lastSave;
    private Task<LookupResult>? _bootstrap;
    private int _disposed;

    private DhtNode(DhtNodeOptions options, ILogger logger, TimeProvider time, DhtCounters counters, RoutingTableState? state)
    {
        _options = options;
        _logger = logger;
        _time = time;
        _endpoint = new DatagramEndpoint(options.EndPoint, logger, ipv6Only: options.EndPoint.AddressFamily == AddressFamily.InterNetworkV6);
        _sendAddress = new SocketAddress(options.EndPoint.AddressFamily);
        LocalEndPoint = _endpoint.LocalEndPoint;
        Engine = new DhtEngine(options with { Id = options.Id ?? state?.Id }, this, time, logger, counters);
        Remembered = state?.Nodes ?? [];
        _lastSave = time.GetUtcNow();
        _endpoint.Start(this, "dht-receive");
        _timer = time.CreateTimer(_ => OnTick(), null, TickEvery, TickEvery);
        DhtLog.Started(logger, Engine.Id.ToString(), LocalEndPoint.ToString());
    }

    public DhtEngine Engine { get; }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The node's UDP port, for others that share it (uTP sends its packets through it).</summary>
    public DatagramEndpoint Endpoint => _endpoint;

    /// <summary>Where datagrams that are not KRPC go (uTP on the same port); null: they count as malformed KRPC.</summary>
    public IDatagramHandler? Passthrough { get; set; }

    public CompactPeer LocalAddress => CompactPeer.FromEndPoint(LocalEndPoint);

    /// <summary>Nodes loaded from the state file, contacted by <see cref="BootstrapAsync"/>.</summary>
    public IReadOnlyList<(NodeId Id, CompactPeer Address)> Remembered { get; }

    /// <summary>Binds the socket and starts answering; call <see cref="BootstrapAsync"/> to join the network.</summary>
    public static DhtNode Start(DhtNodeOptions options, ILogger? logger = null, TimeProvider? time = null, DhtCounters? counters = null)
    {
        logger ??= NullLogger.Instance;
        RoutingTableState? state = null;
        if (options.StateFile is { } path)
        {
            try
            {
                state = RoutingTableFile.Load(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                DhtLog.StateUnreadable(logger, path, e.Message);
            }
        }
        return new DhtNode(options, logger, time ?? TimeProvider.System, counters ?? new DhtCounters(), state);
    }

    public Task<LookupResult> BootstrapAsync(CancellationToken cancellationToken = default)
    {
        _bootstrap = Engine.BootstrapAsync(_options.Bootstrap, Remembered, cancellationToken);
        return _bootstrap;
    }

    void IDatagramSender.Send(ReadOnlySpan<byte> datagram, CompactPeer destination)
    {
        // Called under the engine's lock, so the one SocketAddress is never shared.
        if (destination.IsV6 != (_endpoint.AddressFamily == AddressFamily.InterNetworkV6)) return;
        var address = _sendAddress.Buffer.Span;
        BinaryPrimitives.WriteUInt16BigEndian(address[2..], destination.Port);
        // sockaddr_in: the IPv4 address at offset 4; sockaddr_in6: flow info at 4, the address at 8.
        if (destination.IsV6) BinaryPrimitives.WriteUInt128BigEndian(address[8..], destination.Address);
        else BinaryPrimitives.WriteUInt32BigEndian(address[4..], destination.V4);
        if (Environment.CurrentManagedThreadId == _receiveThread)
        {
            // Answering a datagram of the batch being received: the reply leaves with the others at the batch end.
            if (_replies.IsFull) FlushReplies();
            datagram.CopyTo(_replies.Next);
            _replies.Add(datagram.Length, _sendAddress);
            return;
        }
        if (!_endpoint.Send(datagram, _sendAddress) && _disposed == 0) DhtLog.SendFailed(_logger, destination.ToString(), "send refused");
    }

    private void FlushReplies()
    {
        if (_replies.Count == 0) return;
        _endpoint.Send(_replies);
        _replies.Clear();
    }

    void IDatagramHandler.OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress from)
    {
        if (_stopping.IsCancellationRequested) return;
        _receiveThread = Environment.CurrentManagedThreadId;
        if (Passthrough is { } other && (datagram.IsEmpty || datagram[0] != (byte)'d'))
        {
            other.OnDatagram(datagram, from);
            return;
        }
        var span = from.Buffer.Span;
        var source = _endpoint.AddressFamily == AddressFamily.InterNetworkV6
            ? new CompactPeer(BinaryPrimitives.ReadUInt128BigEndian(span[8..]), BinaryPrimitives.ReadUInt16BigEndian(span[2..]))
            : new CompactPeer(BinaryPrimitives.ReadUInt32BigEndian(span[4..]), BinaryPrimitives.ReadUInt16BigEndian(span[2..]));
        try
        {
            Engine.Receive(datagram, source);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // A bug on one datagram must not stop the node: drop it, count it, keep serving.
            Engine.Counters.Malformed();
            DhtLog.DatagramFailed(_logger, source.ToString(), e.Message);
        }
    }

    void IDatagramHandler.OnBatchEnd()
    {
        FlushReplies();
        Passthrough?.OnBatchEnd();
    }

    private void OnTick()
    {
        if (_stopping.IsCancellationRequested) return;
        Engine.Tick();
        var now = _time.GetUtcNow();
        if (now - _lastSave >= SaveEvery)
        {
            _lastSave = now;
            Save();
        }
    }

    public void Save()
    {
        if (_options.StateFile is not { } path) return;
        try
        {
            var (id, nodes) = Engine.WithTable(table => (table.OwnId, table.AllNodes()));
            RoutingTableFile.Save(path, id, nodes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            DhtLog.StateNotSaved(_logger, path, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _stopping.Cancel();
        await _timer.DisposeAsync().ConfigureAwait(false);
        Engine.AbortAll();
        Save();
        _endpoint.Dispose();
        _stopping.Dispose();
    }
}
