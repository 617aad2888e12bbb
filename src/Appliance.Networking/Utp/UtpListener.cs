using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Buffers;
using Appliance.Networking.Udp;

namespace Appliance.Networking.Utp;

/// <summary>Decides what an established incoming uTP connection becomes (a peer session), or refuses it.</summary>
public interface IUtpAcceptor
{
    /// <summary>False refuses the connection (limits); it is then reset.</summary>
    bool TryAccept(UtpConnection connection, IPEndPoint remote);
}

/// <summary>
/// The uTP side of a UDP port: routes each packet to its connection by (source address, connection id), opens a
/// connection per SYN under half-open caps (per source, and overall with the oldest evicted first, so a flood cannot
/// lock real peers out), answers packets for connections it does not know with a RESET (so a confused peer stops
/// waiting and falls back to TCP at once), and ticks every connection's timers from one thread every
/// <see cref="TickMilliseconds"/> (no timer per packet or per connection). The seeder only accepts; <see cref="Connect"/>
/// dials out from the same port (the load generator, tests).
/// </summary>
public sealed class UtpListener : IDatagramHandler, IUtpOutput, IDisposable
{
    public const int TickMilliseconds = 20;

    /// <summary>Half-open connections one source (address and port) may hold: a real peer opens one at a time.</summary>
    public const int MaxHalfOpenPerSource = 4;

    private readonly DatagramEndpoint _endpoint;
    private readonly IUtpAcceptor? _acceptor;
    private readonly int _maxHalfOpen;
    private readonly int _maxConnections;
    private readonly Lock _gate = new();
    private readonly Dictionary<Key, Entry> _connections = [];
    private readonly List<Entry> _entries = [];
    private readonly LinkedList<Entry> _halfOpenOrder = new();
    private readonly Dictionary<(UInt128, ushort), int> _halfOpenBySource = [];
    private readonly PinnedBufferPool _packets = new(UtpConnection.MaxPacketSize, maxRetained: 8192);
    private readonly CancellationTokenSource _stopping = new();
    private Entry[] _tickList = new Entry[64];
    // Connections with a send deferred to the end of the received batch; the receive thread's alone.
    private readonly List<Entry> _flushes = [];
    private Thread? _ticker;
    private int _halfOpen;
    private int _disposed;

    /// <param name="acceptor">What incoming connections become; null for a port that only dials (incoming SYNs are reset).</param>
    public UtpListener(DatagramEndpoint endpoint, IUtpAcceptor? acceptor, UtpCounters counters, int maxHalfOpen = 64, int maxConnections = 10_000)
    {
        _endpoint = endpoint;
        _acceptor = acceptor;
        _maxHalfOpen = maxHalfOpen;
        _maxConnections = maxConnections;
        Counters = counters;
    }

    public UtpCounters Counters { get; }

    public int ConnectionCount { get { lock (_gate) return _connections.Count; } }

    public int HalfOpenCount { get { lock (_gate) return _halfOpen; } }

    /// <summary>Packet buffers created so far (bounded use: they come back when acknowledged or the connection ends).</summary>
    public PinnedBufferPool PacketBuffers => _packets;

    /// <summary>Microseconds on the monotonic clock every connection shares.</summary>
    public static long NowMicros => (long)(Stopwatch.GetTimestamp() * (1_000_000.0 / Stopwatch.Frequency));

    public void Start()
    {
        _ticker = new Thread(TickLoop) { IsBackground = true, Name = "utp-timers" };
        _ticker.Start();
    }

    public void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source)
    {
        Counters.Received();
        if (!UtpHeader.TryParse(datagram, out var header, out int payloadOffset, out var sack))
        {
            Counters.Drop();
            return;
        }
        if (!TryKey(source, header.Type == UtpPacketType.Syn ? (ushort)(header.ConnectionId + 1) : header.ConnectionId, out var key))
        {
            Counters.Drop();
            return;
        }
        long now = NowMicros;
        Entry? entry;
        lock (_gate) _connections.TryGetValue(key, out entry);
        if (entry is null)
        {
            if (header.Type == UtpPacketType.Syn && _acceptor is not null) Open(key, header, source, now);
            else if (header.Type == UtpPacketType.Syn) ResetUnknown(header, source, now, header.ConnectionId);
            else if (header.Type != UtpPacketType.Reset) ResetUnknown(header, source, now);
            else Counters.Drop();
            return;
        }
        var connection = entry.Connection;
        // The packets of one received batch release one send and one ack per connection, at the end of the batch.
        bool defer = header.Type is UtpPacketType.State or UtpPacketType.Data or UtpPacketType.Fin;
        bool established = connection.OnPacket(header, sack, datagram[payloadOffset..], now, defer);
        if (defer && !entry.FlushQueued)
        {
            entry.FlushQueued = true;
            _flushes.Add(entry);
        }
        if (established && !entry.Dialed)
        {
            lock (_gate) LeaveHalfOpen(entry);
            if (_acceptor!.TryAccept(connection, entry.Remote)) Counters.Accepted();
            else
            {
                Counters.Refused(halfOpen: false);
                connection.Abort(now);
            }
        }
        if (connection.IsDone) Remove(entry);
    }

    public void OnBatchEnd()
    {
        if (_flushes.Count == 0) return;
        long now = NowMicros;
        foreach (var entry in _flushes)
        {
            entry.FlushQueued = false;
            entry.Connection.FlushDeferred(now);
            if (entry.Connection.IsDone) Remove(entry);
        }
        _flushes.Clear();
    }

    private void Open(Key key, in UtpHeader syn, SocketAddress source, long now)
    {
        Entry entry;
        Entry? evicted = null;
        lock (_gate)
        {
            var origin = (key.Address, key.Port);
            _halfOpenBySource.TryGetValue(origin, out int fromSource);
            if (fromSource >= MaxHalfOpenPerSource || _connections.Count >= _maxConnections)
            {
                Counters.Refused(halfOpen: fromSource >= MaxHalfOpenPerSource);
                ResetUnknown(syn, source, now, syn.ConnectionId);
                return;
            }
            if (_halfOpen >= _maxHalfOpen)
            {
                // A flood from many (spoofed) sources: the oldest half-open connection makes room, so a real peer,
                // which answers within a round trip, still gets through.
                evicted = _halfOpenOrder.First!.Value;
                Counters.Refused(halfOpen: true);
                // Out of the tables at once, so the count never exceeds the cap, even for a moment.
                _connections.Remove(evicted.Key);
                _entries.Remove(evicted);
                LeaveHalfOpen(evicted);
            }
            var address = new SocketAddress(source.Family, source.Size);
            source.Buffer.Span.CopyTo(address.Buffer.Span);
            var remote = (IPEndPoint)new IPEndPoint(IPAddress.Any, 0).Create(address);
            entry = new Entry(key, address, remote);
            // The connection answers the SYN from its constructor, through its tag (the entry).
            entry.Connection = new UtpConnection(this, _packets, Counters, syn, (ushort)Random.Shared.Next(0x10000),
                source.Family == AddressFamily.InterNetworkV6, now, entry);
            _connections[key] = entry;
            _entries.Add(entry);
            _halfOpen++;
            _halfOpenBySource[origin] = fromSource + 1;
            entry.HalfOpenNode = _halfOpenOrder.AddLast(entry);
        }
        Counters.Opened();
        if (evicted is not null)
        {
            evicted.Connection.Abort(now);
            Counters.Closed();
        }
    }

    /// <summary>
    /// Dials <paramref name="remote"/> from this port: the returned connection is <see cref="UtpState.SynSent"/> until the
    /// peer answers (<paramref name="observer"/>, set before the SYN leaves, hears <see cref="IUtpObserver.Writable"/> then),
    /// and ends on a RESET or after <see cref="UtpConnection.HalfOpenTimeoutMicros"/>. The receive id is random among
    /// those free for that peer. Throws <see cref="SocketException"/> when the connection cap is reached or the address
    /// family does not fit the port.
    /// </summary>
    public UtpConnection Connect(IPEndPoint remote, IUtpObserver? observer = null)
    {
        if (_endpoint.AddressFamily == AddressFamily.InterNetworkV6 && remote.AddressFamily == AddressFamily.InterNetwork)
            remote = new IPEndPoint(remote.Address.MapToIPv6(), remote.Port);
        if (remote.AddressFamily != _endpoint.AddressFamily) throw new SocketException((int)SocketError.AddressFamilyNotSupported);
        var address = remote.Serialize();
        long now = NowMicros;
        lock (_gate)
        {
            if (_connections.Count >= _maxConnections) throw new SocketException((int)SocketError.TooManyOpenSockets);
            // 16-bit ids: a free one is found at once unless tens of thousands of connections go to this one peer.
            for (int attempt = 0; attempt < 64; attempt++)
            {
                var id = (ushort)Random.Shared.Next(0x10000);
                if (!TryKey(address, id, out var key)) throw new SocketException((int)SocketError.AddressFamilyNotSupported);
                if (_connections.ContainsKey(key)) continue;
                var entry = new Entry(key, address, remote) { Dialed = true };
                // Under the lock, so the answer to the SYN cannot arrive before the connection is in the table.
                entry.Connection = UtpConnection.Dial(this, _packets, Counters, id, (ushort)Random.Shared.Next(0x10000),
                    remote.AddressFamily == AddressFamily.InterNetworkV6, now, entry, observer);
                _connections[key] = entry;
                _entries.Add(entry);
                Counters.Opened();
                return entry.Connection;
            }
        }
        throw new SocketException((int)SocketError.TooManyOpenSockets);
    }

    /// <summary>
    /// BEP 29 RESET for a packet of a connection we do not have. The peer matches it on the id it receives on, which is
    /// one less than the id it sends with (a SYN carries the receive id itself).
    /// </summary>
    private void ResetUnknown(in UtpHeader header, SocketAddress source, long now, int connectionId = -1)
    {
        Span<byte> datagram = stackalloc byte[UtpHeader.Length];
        ushort id = connectionId >= 0 ? (ushort)connectionId : (ushort)(header.ConnectionId - 1);
        new UtpHeader(UtpPacketType.Reset, id, (uint)now, 0, 0, (ushort)Random.Shared.Next(0x10000), header.SequenceNumber).WriteTo(datagram);
        _endpoint.Send(datagram, source);
        Counters.ResetSent();
        if (connectionId < 0) Counters.Drop();
    }

    void IUtpOutput.Send(ReadOnlySpan<byte> datagram, UtpConnection connection) =>
        _endpoint.Send(datagram, ((Entry)connection.Tag!).Address);

    void IUtpOutput.SendMany(ReadOnlySpan<byte[]> datagrams, ReadOnlySpan<int> lengths, UtpConnection connection) =>
        _endpoint.SendMany(datagrams, lengths, ((Entry)connection.Tag!).Address);

    private void Remove(Entry entry)
    {
        lock (_gate)
        {
            if (!_connections.Remove(entry.Key)) return;
            _entries.Remove(entry);
            LeaveHalfOpen(entry);
        }
        Counters.Closed();
    }

    private void LeaveHalfOpen(Entry entry)
    {
        if (entry.HalfOpenNode is not { } node) return;
        _halfOpenOrder.Remove(node);
        entry.HalfOpenNode = null;
        _halfOpen--;
        var origin = (entry.Key.Address, entry.Key.Port);
        if (_halfOpenBySource[origin] <= 1) _halfOpenBySource.Remove(origin);
        else _halfOpenBySource[origin]--;
    }

    private void TickLoop()
    {
        var token = _stopping.Token;
        while (!token.WaitHandle.WaitOne(TickMilliseconds))
        {
            int count;
            lock (_gate)
            {
                count = _entries.Count;
                if (_tickList.Length < count) _tickList = new Entry[Math.Max(count, _tickList.Length * 2)];
                _entries.CopyTo(_tickList);
            }
            long now = NowMicros;
            for (int i = 0; i < count; i++)
            {
                var entry = _tickList[i];
                _tickList[i] = null!;
                entry.Connection.OnTick(now);
                if (entry.Connection.IsDone) Remove(entry);
            }
        }
    }

    /// <summary>Resets every connection and stops the timers. The endpoint belongs to the caller.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _stopping.Cancel();
        _ticker?.Join(TimeSpan.FromSeconds(2));
        Entry[] all;
        lock (_gate) all = [.. _entries];
        long now = NowMicros;
        foreach (var entry in all)
        {
            entry.Connection.Abort(now);
            Remove(entry);
        }
        _stopping.Dispose();
    }

    private static bool TryKey(SocketAddress source, ushort id, out Key key)
    {
        var bytes = source.Buffer.Span;
        key = default;
        if (source.Family == AddressFamily.InterNetwork && bytes.Length >= 8)
        {
            key = new Key(BinaryPrimitives.ReadUInt32BigEndian(bytes[4..]), BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]), id);
            return true;
        }
        if (source.Family == AddressFamily.InterNetworkV6 && bytes.Length >= 24)
        {
            key = new Key(BinaryPrimitives.ReadUInt128BigEndian(bytes[8..]), BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]), id);
            return true;
        }
        return false;
    }

    private readonly record struct Key(UInt128 Address, ushort Port, ushort Id);

    private sealed class Entry(Key key, SocketAddress address, IPEndPoint remote)
    {
        public Key Key { get; } = key;
        public SocketAddress Address { get; } = address;
        public IPEndPoint Remote { get; } = remote;
        public UtpConnection Connection { get; set; } = null!;

        /// <summary>Ours (<see cref="Connect"/>): established without the acceptor and outside the half-open caps.</summary>
        public bool Dialed { get; init; }

        /// <summary>In the listener's list of sends deferred to the end of the received batch.</summary>
        public bool FlushQueued { get; set; }

        /// <summary>Its place among the half-open connections, oldest first; null once established.</summary>
        public LinkedListNode<Entry>? HalfOpenNode { get; set; }
    }
}
