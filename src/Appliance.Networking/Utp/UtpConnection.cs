using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using Appliance.Networking.Buffers;
using Appliance.Networking.Tcp;

namespace Appliance.Networking.Utp;

/// <summary>Where a connection's datagrams go (the UDP endpoint, or a list in tests).</summary>
public interface IUtpOutput
{
    void Send(ReadOnlySpan<byte> datagram, UtpConnection connection);

    /// <summary>Several datagrams at once (one <c>sendmmsg</c>); <paramref name="datagrams"/> are pinned pool buffers.</summary>
    void SendMany(ReadOnlySpan<byte[]> datagrams, ReadOnlySpan<int> lengths, UtpConnection connection)
    {
        for (int i = 0; i < datagrams.Length; i++) Send(datagrams[i].AsSpan(0, lengths[i]), connection);
    }
}

/// <summary>Told when a connection has bytes (or an end) to read, or room to write. Called under the connection's lock: keep it short.</summary>
public interface IUtpObserver
{
    void Readable();
    void Writable();
}

public enum UtpState : byte
{
    /// <summary>Our STATE answered the SYN; no data yet (a half-open connection).</summary>
    SynReceived,
    Connected,

    /// <summary>Closed by us: queued data and then our FIN still go out until acknowledged or timed out.</summary>
    Closing,
    Closed,

    /// <summary>We dialed: our SYN is out (resent on timeout) and the peer's STATE has not come yet.</summary>
    SynSent,
}

/// <summary>
/// One uTP connection (BEP 29), accepted (the seed side) or dialed (<see cref="Dial"/>): the state machine with no socket
/// and no clock of its own. The listener feeds it parsed packets and ticks with the time in microseconds; it answers
/// through <see cref="IUtpOutput"/>.
/// Sending: bytes written are cut into packets held in a ring until acknowledged (cumulative and selective ACK), sent as
/// the LEDBAT window and the peer's receive window allow, resent on timeout or after three duplicate acks. Receiving:
/// in-order payload goes to a bounded byte ring (its free space is the window we advertise), early packets wait in a
/// small reorder buffer and are reported with a selective ACK. Every method takes the connection's lock.
/// </summary>
public sealed class UtpConnection
{
    /// <summary>A datagram that fits a 1500-byte IPv4 path (20-byte IP and 8-byte UDP headers).</summary>
    public const int MaxPacketSize = 1472;

    /// <summary>Where packet sizes start before a full-size probe is acknowledged: fits nearly every path.</summary>
    public const int SafePacketSize = 1200;

    public const int MinPacketSize = 150;

    /// <summary>Packets in flight or waiting to be sent (a power of two: the ring is indexed by sequence number).</summary>
    public const int RingSize = 256;

    /// <summary>Bytes written but not yet sent that a connection holds; beyond it writers wait (bounded memory per peer).</summary>
    public const int MaxUnsentBytes = 64 * 1024;

    public const int ReceiveBufferSize = 64 * 1024;

    /// <summary>Early packets held for reordering (beyond that they are dropped and resent by the peer).</summary>
    public const int ReorderSlots = 32;

    public const long HalfOpenTimeoutMicros = 10_000_000;
    public const long IdleTimeoutMicros = 180_000_000;
    public const long KeepAliveMicros = 30_000_000;

    /// <summary>Consecutive timeouts after which the peer is taken as gone.</summary>
    public const int MaxTimeouts = 7;

    private const int Mask = RingSize - 1;

    private readonly Lock _gate = new();
    private readonly IUtpOutput _output;
    private readonly PinnedBufferPool _packets;
    private readonly UtpCounters _counters;
    // Allocated with the first write, so a half-open connection (a SYN flood) costs little.
    private OutPacket[] _ring = [];
    private readonly UtpCongestion _congestion = new(RingSize / 2 * MaxPacketSize);

    // Sending: [_oldest, _nextToSend) sent and not all acknowledged, [_nextToSend, _seqNr) built, not sent yet.
    private ushort _seqNr;
    private ushort _oldest;
    private ushort _nextToSend;
    private int _inFlight;
    // Bytes sent and not yet cumulatively acknowledged, selectively acknowledged ones included: the receiver must hold
    // all of them once the holes fill, so this (not _inFlight) is what its advertised window bounds.
    private int _outstanding;
    // While the peer's window is closed, one packet may probe it at this time (0: no probe scheduled).
    private long _windowProbeAt;
    private int _unsentBytes;
    private long _bytesAcknowledged;
    private int _peerWindow = ReceiveBufferSize;
    private ushort _lastAck;
    private int _duplicateAcks;
    private ushort _lossRecoveryUntil;
    private bool _inRecovery;
    private long _timeoutAt = long.MaxValue;
    private int _timeouts;
    private int _packetSize = SafePacketSize;
    private int _packetCeiling;
    private int _probeSeq = -1;
    private bool _finQueued;
    private bool _holdLast;

    // Receiving.
    private ushort _ackNr;
    private byte[]? _received;
    private int _receivedStart;
    private int _receivedCount;
    private readonly byte[]?[] _reorder = new byte[]?[ReorderSlots];
    private readonly int[] _reorderLength = new int[ReorderSlots];
    private readonly ushort[] _reorderSeq = new ushort[ReorderSlots];
    private int _reorderCount;
    private int _eofSeq = -1;
    private bool _peerFinished;
    private uint _replyMicros;

    private long _lastReceivedAt;
    private long _lastSentAt;
    private readonly long _createdAt;

    private struct OutPacket
    {
        public byte[]? Buffer;
        public UtpPacketType Type;
        public int Length;
        public long SentAt;
        public int Transmissions;
        public bool Acked;
        public bool FastResent;
    }

    /// <summary>Accepts a SYN: our send id is its connection id, we receive on that id + 1 (BEP 29).</summary>
    public UtpConnection(IUtpOutput output, PinnedBufferPool packets, UtpCounters counters, UtpHeader syn, ushort initialSeq, bool ipv6, long nowMicros, object? tag = null)
        : this(output, packets, counters, recvId: (ushort)(syn.ConnectionId + 1), sendId: syn.ConnectionId, initialSeq, ipv6, nowMicros, tag)
    {
        _ackNr = syn.SequenceNumber;
        _replyMicros = (uint)nowMicros - syn.TimestampMicros;
        _peerWindow = (int)Math.Min(syn.WindowSize, int.MaxValue);
        State = UtpState.SynReceived;
        lock (_gate) SendState(nowMicros);
    }

    private UtpConnection(IUtpOutput output, PinnedBufferPool packets, UtpCounters counters, ushort recvId, ushort sendId, ushort initialSeq, bool ipv6,
        long nowMicros, object? tag)
    {
        Tag = tag;
        _output = output;
        _packets = packets;
        _counters = counters;
        RecvId = recvId;
        SendId = sendId;
        _seqNr = _oldest = _nextToSend = initialSeq;
        _lastAck = (ushort)(initialSeq - 1);
        _nextResend = initialSeq;
        _packetCeiling = ipv6 ? MaxPacketSize - 20 : MaxPacketSize;
        _createdAt = _lastReceivedAt = _lastSentAt = nowMicros;
    }

    /// <summary>
    /// Dials: sends a SYN carrying <paramref name="recvId"/> (we send with that id + 1, BEP 29) as sequence number
    /// <paramref name="initialSeq"/>. The SYN sits in the send ring like data, so it is resent on timeout and its
    /// acknowledgement is the first RTT sample; the peer's STATE that acknowledges it establishes the connection
    /// (<see cref="IUtpObserver.Writable"/> tells the observer). No answer within <see cref="HalfOpenTimeoutMicros"/>
    /// ends it with <see cref="SocketError.TimedOut"/>, a RESET with <see cref="SocketError.ConnectionRefused"/>.
    /// </summary>
    public static UtpConnection Dial(IUtpOutput output, PinnedBufferPool packets, UtpCounters counters, ushort recvId, ushort initialSeq, bool ipv6,
        long nowMicros, object? tag = null, IUtpObserver? observer = null)
    {
        var connection = new UtpConnection(output, packets, counters, recvId, (ushort)(recvId + 1), initialSeq, ipv6, nowMicros, tag)
        {
            State = UtpState.SynSent,
            Observer = observer,
        };
        lock (connection._gate) connection.SendSyn(nowMicros);
        return connection;
    }

    private void SendSyn(long nowMicros)
    {
        _ring = new OutPacket[RingSize];
        _ring[_seqNr & Mask] = new OutPacket { Buffer = _packets.Rent(), Type = UtpPacketType.Syn, Length = UtpHeader.Length };
        _seqNr++;
        Flush(nowMicros);
    }

    public ushort RecvId { get; }
    public ushort SendId { get; }
    public UtpState State { get; private set; }

    /// <summary>Why the connection ended (for the reader): reset by the peer, timed out, or refused.</summary>
    public SocketError Error { get; private set; }

    public IUtpObserver? Observer { get; set; }

    /// <summary>Set by the owner (the listener): where this connection's datagrams go.</summary>
    public object? Tag { get; set; }

    public UtpCongestion Congestion => _congestion;
    public int PacketSize { get { lock (_gate) return _packetSize; } }
    public bool IsDone => State == UtpState.Closed;

    /// <summary>True when a read would return data, the end of the stream, or an error.</summary>
    public bool CanRead { get { lock (_gate) return _receivedCount > 0 || EndOfStream || State is UtpState.Closed or UtpState.Closing; } }

    /// <summary>True when a write would take bytes or fail (the connection ended); false while dialing or while the send backlog is full.</summary>
    public bool CanWrite
    {
        get
        {
            lock (_gate) return State != UtpState.SynSent && (State != UtpState.Connected || _unsentBytes < MaxUnsentBytes && Distance(_oldest, _seqNr) < RingSize - 1);
        }
    }

    /// <summary>
    /// How far the peer has taken what was written: bytes of packets it acknowledged so far, and whether written bytes
    /// still wait (in flight, or unsent behind its closed window). A peer that stops reading stops acknowledging.
    /// </summary>
    public SendProgress SendProgress { get { lock (_gate) return new SendProgress(_bytesAcknowledged, _oldest != _seqNr); } }

    private bool EndOfStream => _peerFinished && _receivedCount == 0;

    /// <summary>
    /// True when nothing more will be read: the peer finished (<see cref="SocketError.Success"/>, a clean end), reset or
    /// timed out, or our side closed (<see cref="SocketError.OperationAborted"/>).
    /// </summary>
    public bool TryGetEnd(out SocketError error)
    {
        lock (_gate)
        {
            error = State switch
            {
                UtpState.Closed => Error == SocketError.Success ? SocketError.OperationAborted : Error,
                UtpState.Closing => SocketError.OperationAborted,
                _ => SocketError.Success,
            };
            return _receivedCount == 0 && (_peerFinished || State is UtpState.Closed or UtpState.Closing);
        }
    }

    /// <summary>
    /// Handles one packet addressed to this connection. Returns true when it became established by this packet.
    /// <paramref name="deferFlush"/>: what an ack lets us send, and our ack of received data, wait for
    /// <see cref="FlushDeferred"/> (the listener calls it once the received batch is handled), so the packets of one
    /// batch release one larger send and one ack, not one each.
    /// </summary>
    public bool OnPacket(in UtpHeader header, ReadOnlySpan<byte> sack, ReadOnlySpan<byte> payload, long nowMicros, bool deferFlush = false)
    {
        lock (_gate)
        {
            if (State == UtpState.Closed) return false;
            if (header.Type == UtpPacketType.Syn)
            {
                // A resent SYN: our STATE was lost.
                if (State == UtpState.SynReceived && header.SequenceNumber == _ackNr) SendState(nowMicros);
                return false;
            }
            // An ack of a packet we never sent is forged or broken: ignore the whole packet (a reset too).
            if (Distance(header.AckNumber, (ushort)(_nextToSend - 1)) < 0)
            {
                _counters.Drop();
                return false;
            }
            if (header.Type == UtpPacketType.Reset)
            {
                _counters.ResetReceived();
                Terminate(State == UtpState.SynSent ? SocketError.ConnectionRefused : SocketError.ConnectionReset);
                return false;
            }
            bool established = false;
            if (State == UtpState.SynSent)
            {
                // Only a packet that acknowledges our SYN (the oldest in the ring) answers it. The STATE does not use up a
                // sequence number: the peer's first data packet carries the same number, so it is the next one we expect.
                if (Distance(_oldest, header.AckNumber) < 0) return false;
                _ackNr = (ushort)(header.SequenceNumber - 1);
                State = UtpState.Connected;
                established = true;
            }
            _lastReceivedAt = nowMicros;
            _replyMicros = (uint)nowMicros - header.TimestampMicros;
            int previousWindow = _peerWindow;
            _peerWindow = (int)Math.Min(header.WindowSize, int.MaxValue);
            if (_peerWindow >= _packetSize) _windowProbeAt = 0;

            if (State == UtpState.SynReceived && header.Type is UtpPacketType.Data or UtpPacketType.Fin)
            {
                State = UtpState.Connected;
                established = true;
            }
            HandleAcks(header, sack, payload.Length, windowUpdate: _peerWindow != previousWindow, nowMicros);
            bool mustAck = header.Type is UtpPacketType.Data or UtpPacketType.Fin;
            if (mustAck) HandleIncoming(header, payload);
            if (State == UtpState.Closed) return false;
            if (deferFlush)
            {
                _flushDeferred = true;
                _ackDeferred |= mustAck;
            }
            else
            {
                int sentBefore = _nextToSend;
                Flush(nowMicros);
                // Data packets carry our ack; send a bare STATE only when nothing went out.
                if (mustAck && sentBefore == _nextToSend) SendState(nowMicros);
            }
            if (State == UtpState.Closing && _oldest == _seqNr) Terminate(SocketError.Success);
            if (State == UtpState.Connected && CanWriteLocked) Observer?.Writable();
            return established;
        }
    }

    /// <summary>Sends what acks handled with <c>deferFlush</c> let go since the last call.</summary>
    public void FlushDeferred(long nowMicros)
    {
        lock (_gate)
        {
            if (!_flushDeferred) return;
            _flushDeferred = false;
            bool mustAck = _ackDeferred;
            _ackDeferred = false;
            if (State == UtpState.Closed) return;
            int sentBefore = _nextToSend;
            Flush(nowMicros);
            // One ack for the data of the whole batch, as libtorrent does; a data packet that went out carried it.
            if (mustAck && sentBefore == _nextToSend) SendState(nowMicros);
            if (State == UtpState.Closing && _oldest == _seqNr) Terminate(SocketError.Success);
            if (State == UtpState.Connected && CanWriteLocked) Observer?.Writable();
        }
    }

    /// <summary>Copies received bytes to <paramref name="destination"/>; 0 when none are buffered (see <see cref="CanRead"/>).</summary>
    public int Read(Span<byte> destination, long nowMicros)
    {
        lock (_gate)
        {
            if (_receivedCount == 0 || _received is null) return 0;
            bool wasFull = ReceiveBufferSize - _receivedCount < MaxPacketSize;
            int total = 0;
            while (total < destination.Length && _receivedCount > 0)
            {
                int run = Math.Min(Math.Min(_receivedCount, ReceiveBufferSize - _receivedStart), destination.Length - total);
                _received.AsSpan(_receivedStart, run).CopyTo(destination[total..]);
                total += run;
                _receivedStart = (_receivedStart + run) % ReceiveBufferSize;
                _receivedCount -= run;
            }
            bool advanced = DeliverEarly();
            if (advanced) CheckEnd();
            if (_receivedCount == 0)
            {
                _receivedStart = 0;
                if (_reorderCount == 0)
                {
                    // An idle peer holds no receive buffer.
                    ArrayPool<byte>.Shared.Return(_received);
                    _received = null;
                }
            }
            // The window reopened after we had advertised (nearly) none, or early packets moved the ack: tell the peer.
            if ((wasFull || advanced) && State == UtpState.Connected) SendState(nowMicros);
            return total;
        }
    }

    /// <summary>
    /// Queues as much of <paramref name="data"/> as fits and sends what the windows allow; returns the bytes taken.
    /// <paramref name="more"/>: more bytes follow at once (the next part of a batch), so a last packet that is not full
    /// waits for them instead of leaving half empty.
    /// </summary>
    public int Write(ReadOnlySpan<byte> data, long nowMicros, bool more = false)
    {
        lock (_gate)
        {
            if (State != UtpState.Connected) return -1;
            if (_ring.Length == 0) _ring = new OutPacket[RingSize];
            _holdLast = more;
            int taken = 0;
            while (taken < data.Length && _unsentBytes < MaxUnsentBytes)
            {
                // Top up the last packet if it has not gone out yet.
                if (_nextToSend != _seqNr)
                {
                    ref var last = ref _ring[(ushort)(_seqNr - 1) & Mask];
                    int room = Capacity((ushort)(_seqNr - 1)) - last.Length;
                    if (room > 0)
                    {
                        int n = Math.Min(room, data.Length - taken);
                        data.Slice(taken, n).CopyTo(last.Buffer.AsSpan(last.Length));
                        last.Length += n;
                        _unsentBytes += n;
                        taken += n;
                        continue;
                    }
                }
                if (Distance(_oldest, _seqNr) >= RingSize - 1) break;
                ushort seq = _seqNr;
                if (_probeSeq < 0 && _packetSize < _packetCeiling && data.Length - taken >= _packetCeiling - UtpHeader.Length) _probeSeq = seq;
                ref var packet = ref _ring[seq & Mask];
                packet = new OutPacket { Buffer = _packets.Rent(), Type = UtpPacketType.Data, Length = UtpHeader.Length };
                _seqNr++;
            }
            Flush(nowMicros);
            return taken;
        }
    }

    /// <summary>Closes our side: what was written still goes out, then a FIN; reads end. A connection never established is dropped at once.</summary>
    public void Close(long nowMicros)
    {
        lock (_gate)
        {
            if (State is UtpState.Closed or UtpState.Closing) return;
            if (State is UtpState.SynReceived or UtpState.SynSent || Distance(_oldest, _seqNr) >= RingSize - 1)
            {
                SendReset(nowMicros);
                Terminate(SocketError.Success);
                return;
            }
            State = UtpState.Closing;
            _finQueued = true;
            _holdLast = false;
            if (_ring.Length == 0) _ring = new OutPacket[RingSize];
            ref var fin = ref _ring[_seqNr & Mask];
            fin = new OutPacket { Buffer = _packets.Rent(), Type = UtpPacketType.Fin, Length = UtpHeader.Length };
            _seqNr++;
            Flush(nowMicros);
            Observer?.Readable();
        }
    }

    /// <summary>Ends the connection at once with a RESET (refused, or shutting down).</summary>
    public void Abort(long nowMicros)
    {
        lock (_gate)
        {
            if (State == UtpState.Closed) return;
            SendReset(nowMicros);
            Terminate(SocketError.ConnectionAborted);
        }
    }

    /// <summary>Timers: retransmission, keep-alive, half-open and idle timeouts. Called every few tens of milliseconds.</summary>
    public void OnTick(long nowMicros)
    {
        lock (_gate)
        {
            if (State == UtpState.Closed) return;
            if (State is UtpState.SynReceived or UtpState.SynSent && nowMicros - _createdAt > HalfOpenTimeoutMicros)
            {
                Terminate(SocketError.TimedOut);
                return;
            }
            if (nowMicros - _lastReceivedAt > IdleTimeoutMicros)
            {
                SendReset(nowMicros);
                Terminate(SocketError.TimedOut);
                return;
            }
            if (nowMicros >= _timeoutAt)
            {
                if (_peerWindow < _packetSize)
                {
                    // The peer's window is closed: what went out waits for its reader, not for the network. Probe with the
                    // oldest packet; neither the congestion window nor the timeout count changes (an absent peer still
                    // ends by the idle timeout).
                    Resend(_oldest, nowMicros);
                    _timeoutAt = nowMicros + _congestion.RtoMicros;
                    Flush(nowMicros);
                    return;
                }
                if (++_timeouts > MaxTimeouts)
                {
                    SendReset(nowMicros);
                    Terminate(SocketError.TimedOut);
                    return;
                }
                _counters.Timeout();
                if (_probeSeq >= 0 && Distance(_oldest, (ushort)_probeSeq) >= 0 && Distance((ushort)_probeSeq, _nextToSend) > 0)
                {
                    // A lost full-size probe says the path is narrower, not congested.
                    _packetCeiling = _packetSize;
                }
                _congestion.OnTimeout();
                _inFlight = 0;
                // Everything in flight is taken as lost; the oldest goes again now, the rest as the window reopens.
                for (ushort s = _oldest; s != _nextToSend; s++)
                {
                    if (!_ring[s & Mask].Acked) _ring[s & Mask].SentAt = 0;
                }
                _nextResend = _oldest;
                Resend(_oldest, nowMicros);
                _timeoutAt = nowMicros + _congestion.RtoMicros;
            }
            Flush(nowMicros);
            if (State == UtpState.Connected && nowMicros - _lastSentAt > KeepAliveMicros) SendState(nowMicros);
            if (State == UtpState.Connected && CanWriteLocked) Observer?.Writable();
        }
    }

    // After a timeout, packets not yet resent (SentAt == 0) go again from here as the window allows.
    private ushort _nextResend;

    // A packet handled with deferFlush left sending (and acknowledging, for data) to FlushDeferred.
    private bool _flushDeferred;
    private bool _ackDeferred;

    private void HandleAcks(in UtpHeader header, ReadOnlySpan<byte> sack, int payloadLength, bool windowUpdate, long nowMicros)
    {
        int ackedBytes = 0;
        ushort ack = header.AckNumber;
        bool progressed = false;
        while (_oldest != _nextToSend && Distance(_oldest, ack) >= 0)
        {
            _outstanding -= _ring[_oldest & Mask].Length;
            ackedBytes += Acknowledge(_oldest, nowMicros);
            Release(_oldest); // a packet sacked earlier was acknowledged then but kept its buffer until it became the oldest
            _oldest++;
            progressed = true;
        }
        // Packets selectively acknowledged beyond the gap are released too; three of them past a hole mark it lost.
        int sackedPast = 0;
        if (!sack.IsEmpty)
        {
            for (int i = sack.Length * 8 - 1; i >= 0; i--)
            {
                ushort seq = (ushort)(ack + 2 + i);
                if (Distance(seq, _nextToSend) <= 0 || Distance(_oldest, seq) < 0) continue;
                if (UtpHeader.SackBit(sack, i))
                {
                    ackedBytes += Acknowledge(seq, nowMicros);
                    sackedPast++;
                }
                else if (sackedPast >= 3 && !_ring[seq & Mask].Acked)
                {
                    LostPacket(seq, sack, ack, nowMicros);
                }
            }
            if (sackedPast >= 3 && _oldest != _nextToSend && !_ring[_oldest & Mask].Acked) LostPacket(_oldest, sack, ack, nowMicros);
        }
        while (_oldest != _nextToSend && _ring[_oldest & Mask].Acked)
        {
            _outstanding -= _ring[_oldest & Mask].Length;
            Release(_oldest);
            _oldest++;
            progressed = true;
        }

        if (progressed)
        {
            _duplicateAcks = 0;
            _timeouts = 0;
            _lastAck = ack;
        }
        // A repeated ack is a sign of loss only as TCP counts it (RFC 5681): not a window update (the reader made room),
        // and not while the peer's window is closed (our probe found no room: flow control, not congestion).
        else if (ack == _lastAck && payloadLength == 0 && header.Type == UtpPacketType.State && _oldest != _nextToSend
            && !windowUpdate && _peerWindow >= _packetSize)
        {
            if (++_duplicateAcks == 3) LostPacket(_oldest, default, ack, nowMicros);
        }
        if (_inRecovery && Distance(_lossRecoveryUntil, _oldest) >= 0) _inRecovery = false;
        _bytesAcknowledged += ackedBytes;
        if (ackedBytes > 0) _congestion.OnAck(ackedBytes, header.TimestampDifferenceMicros, nowMicros);
        _timeoutAt = _oldest == _nextToSend ? long.MaxValue : progressed ? nowMicros + _congestion.RtoMicros : _timeoutAt;
        if (progressed && CanWriteLocked) Observer?.Writable();
        if (_finQueued && _oldest == _seqNr && State == UtpState.Closing) Terminate(SocketError.Success);
    }

    private bool CanWriteLocked => _unsentBytes < MaxUnsentBytes && Distance(_oldest, _seqNr) < RingSize - 1;

    /// <summary>Marks one sent packet acknowledged; returns its bytes (0 if it already was).</summary>
    private int Acknowledge(ushort seq, long nowMicros)
    {
        ref var packet = ref _ring[seq & Mask];
        if (packet.Acked || packet.Buffer is null) return 0;
        packet.Acked = true;
        if (packet.SentAt != 0) _inFlight -= packet.Length;
        if (packet.Transmissions == 1 && packet.SentAt != 0)
        {
            int rtt = (int)Math.Min(int.MaxValue, nowMicros - packet.SentAt);
            _congestion.OnRttSample(rtt);
            _counters.RttMeasured(rtt);
        }
        if (seq == _probeSeq)
        {
            _packetSize = _packetCeiling;
            _probeSeq = -1;
        }
        int length = packet.Length;
        if (seq != _oldest) return length;
        Release(seq);
        return length;
    }

    private void Release(ushort seq)
    {
        ref var packet = ref _ring[seq & Mask];
        if (packet.Buffer is not null) _packets.Return(packet.Buffer);
        packet = default;
        packet.Acked = true;
    }

    /// <summary>
    /// A packet is taken as lost: resent at once. Once only, unless <paramref name="sack"/> shows three packets sent after
    /// its resend already arrived, so the resend was lost too (without this, a lost resend waits for the timeout).
    /// </summary>
    private void LostPacket(ushort seq, ReadOnlySpan<byte> sack, ushort ack, long nowMicros)
    {
        ref var packet = ref _ring[seq & Mask];
        if (packet.Acked || packet.Buffer is null) return;
        if (packet.FastResent && !ArrivedSince(packet.SentAt, sack, ack, 3)) return;
        packet.FastResent = true;
        if (seq == _probeSeq) _packetCeiling = _packetSize;
        else if (!_inRecovery)
        {
            // One window cut per loss event: until everything sent now is acknowledged, further losses are the same event.
            _congestion.OnLoss();
            _inRecovery = true;
            _lossRecoveryUntil = _nextToSend;
        }
        _counters.FastRetransmit();
        Resend(seq, nowMicros);
    }

    /// <summary>True when at least <paramref name="count"/> selectively acknowledged packets were last sent after <paramref name="sentAt"/>.</summary>
    private bool ArrivedSince(long sentAt, ReadOnlySpan<byte> sack, ushort ack, int count)
    {
        if (sentAt == 0) return false; // taken as lost by a timeout and not resent yet: the resend loop has it
        int found = 0;
        for (int i = 0; i < sack.Length * 8 && found < count; i++)
        {
            ushort seq = (ushort)(ack + 2 + i);
            if (Distance(seq, _nextToSend) <= 0) break;
            if (UtpHeader.SackBit(sack, i) && _ring[seq & Mask].SentAt > sentAt) found++;
        }
        return found >= count;
    }

    private void HandleIncoming(in UtpHeader header, ReadOnlySpan<byte> payload)
    {
        int distance = Distance(_ackNr, header.SequenceNumber);
        // A FIN numbered at or before what arrived already is a duplicate or a forgery: taken as the end, the real end
        // would never be seen.
        if (header.Type == UtpPacketType.Fin && _eofSeq < 0 && distance > 0) _eofSeq = header.SequenceNumber;
        if (distance <= 0)
        {
            _counters.Duplicate();
            return;
        }
        if (State != UtpState.Connected && State != UtpState.Closing) return;
        if (distance == 1)
        {
            if (!Deliver(payload)) return; // no room: the peer overran our window, it will resend
            _ackNr++;
            // A copy of this packet may wait in the reorder buffer (it arrived early, then again in order): drop it.
            DropEarly(_ackNr);
            DeliverEarly();
            CheckEnd();
            return;
        }
        if (distance > ReorderSlots || _eofSeq >= 0 && Distance((ushort)_eofSeq, header.SequenceNumber) > 0) return;
        int index = header.SequenceNumber % ReorderSlots;
        if (_reorder[index] is not null)
        {
            if (_reorderSeq[index] == header.SequenceNumber) return;
            DropEarly(_reorderSeq[index]);
        }
        var copy = ArrayPool<byte>.Shared.Rent(Math.Max(1, payload.Length));
        payload.CopyTo(copy);
        _reorder[index] = copy;
        _reorderLength[index] = payload.Length;
        _reorderSeq[index] = header.SequenceNumber;
        _reorderCount++;
    }

    /// <summary>
    /// Early packets that are now in order follow, as far as the receive buffer has room; the rest wait for the reader
    /// (<see cref="Read"/> calls this again). They must not wait for a resend: the peer had them selectively acknowledged
    /// and released them. Returns true when the ack number moved.
    /// </summary>
    private bool DeliverEarly()
    {
        ushort before = _ackNr;
        while (_reorderCount > 0)
        {
            ushort next = (ushort)(_ackNr + 1);
            int slot = next % ReorderSlots;
            var early = _reorder[slot];
            if (early is null || _reorderSeq[slot] != next) break;
            if (!Deliver(early.AsSpan(0, _reorderLength[slot]))) break;
            DropEarly(next);
            _ackNr++;
        }
        return _ackNr != before;
    }

    private void DropEarly(ushort seq)
    {
        int slot = seq % ReorderSlots;
        if (_reorder[slot] is not { } early || _reorderSeq[slot] != seq) return;
        ArrayPool<byte>.Shared.Return(early);
        _reorder[slot] = null;
        _reorderCount--;
    }

    private bool Deliver(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty) return true;
        if (ReceiveBufferSize - _receivedCount < payload.Length) return false;
        if (State == UtpState.Closing) return true; // our side no longer reads: acknowledge and drop
        _received ??= ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
        int end = (_receivedStart + _receivedCount) % ReceiveBufferSize;
        int first = Math.Min(payload.Length, ReceiveBufferSize - end);
        payload[..first].CopyTo(_received.AsSpan(end));
        payload[first..].CopyTo(_received);
        _receivedCount += payload.Length;
        Observer?.Readable();
        return true;
    }

    private void CheckEnd()
    {
        if (_eofSeq >= 0 && _ackNr == (ushort)_eofSeq && !_peerFinished)
        {
            _peerFinished = true;
            Observer?.Readable();
        }
    }

    /// <summary>Sends built packets while the congestion window and the peer's window allow (at least one when nothing is in flight).</summary>
    private void Flush(long nowMicros)
    {
        // After a timeout, the packets taken as lost go first.
        if (Distance(_oldest, _nextResend) < 0) _nextResend = _oldest;
        while (_nextResend != _nextToSend)
        {
            ref var lost = ref _ring[_nextResend & Mask];
            if (lost.Acked || lost.SentAt != 0)
            {
                _nextResend++;
                continue;
            }
            // Packets taken as lost lie within the window the peer granted when they first went: only congestion bounds them.
            if (_inFlight > 0 && _inFlight + lost.Length > _congestion.Window) return;
            Resend(_nextResend, nowMicros);
            _nextResend++;
        }
        while (_nextToSend != _seqNr)
        {
            ref var packet = ref _ring[_nextToSend & Mask];
            if (_holdLast && _nextToSend == (ushort)(_seqNr - 1) && packet.Length < Capacity(_nextToSend)) break;
            if (_inFlight > 0 && _inFlight + packet.Length > _congestion.Window) break;
            if (!PeerHasRoom(packet.Length, nowMicros)) break;
            _unsentBytes -= packet.Length - UtpHeader.Length;
            _outstanding += packet.Length;
            Transmit(ref packet, _nextToSend, nowMicros, batched: true);
            _nextToSend++;
            _nextResend = _nextToSend;
            if (_timeoutAt == long.MaxValue) _timeoutAt = nowMicros + _congestion.RtoMicros;
        }
        SendPending();
    }

    /// <summary>
    /// The peer's receive window bounds everything not yet cumulatively acknowledged. With nothing outstanding and the
    /// window closed, the peer's next window update opens it; should that update be lost, one packet probes after a
    /// retransmission timeout.
    /// </summary>
    private bool PeerHasRoom(int length, long nowMicros)
    {
        if (_outstanding + length <= _peerWindow) return true;
        if (_outstanding > 0) return false;
        if (_windowProbeAt == 0)
        {
            _windowProbeAt = nowMicros + _congestion.RtoMicros;
            return false;
        }
        if (nowMicros < _windowProbeAt) return false;
        _windowProbeAt = 0;
        return true;
    }

    // New packets leave in batches of up to PendingMax (one system call each); the lock is held throughout, so no ack
    // can release a buffer that is still waiting here.
    private const int PendingMax = 32;
    private readonly byte[][] _pending = new byte[PendingMax][];
    private readonly int[] _pendingLength = new int[PendingMax];
    private int _pendingCount;

    private void SendPending()
    {
        if (_pendingCount == 1) _output.Send(_pending[0].AsSpan(0, _pendingLength[0]), this);
        else if (_pendingCount > 1) _output.SendMany(_pending.AsSpan(0, _pendingCount), _pendingLength.AsSpan(0, _pendingCount), this);
        _pending.AsSpan(0, _pendingCount).Clear();
        _pendingCount = 0;
    }

    private void Resend(ushort seq, long nowMicros)
    {
        ref var packet = ref _ring[seq & Mask];
        if (packet.Buffer is null || packet.Acked) return;
        _counters.Retransmitted();
        Transmit(ref packet, seq, nowMicros);
    }

    private void Transmit(ref OutPacket packet, ushort seq, long nowMicros, bool batched = false)
    {
        // A SYN names the id we receive on; every other packet the id the peer receives on.
        ushort connectionId = packet.Type == UtpPacketType.Syn ? RecvId : SendId;
        new UtpHeader(packet.Type, connectionId, (uint)nowMicros, _replyMicros, WindowLeft, seq, _ackNr).WriteTo(packet.Buffer);
        if (batched)
        {
            _pending[_pendingCount] = packet.Buffer!;
            _pendingLength[_pendingCount++] = packet.Length;
            if (_pendingCount == PendingMax) SendPending();
        }
        else
        {
            _output.Send(packet.Buffer!.AsSpan(0, packet.Length), this);
        }
        if (packet.SentAt == 0) _inFlight += packet.Length;
        packet.SentAt = Math.Max(1, nowMicros);
        packet.Transmissions++;
        _lastSentAt = nowMicros;
        _counters.Sent(packet.Length - UtpHeader.Length);
    }

    private uint WindowLeft => (uint)(ReceiveBufferSize - _receivedCount);

    private int Capacity(ushort seq) => seq == _probeSeq ? _packetCeiling : _packetSize;

    private void SendState(long nowMicros)
    {
        Span<byte> datagram = stackalloc byte[UtpHeader.Length + 2 + 4];
        int length = UtpHeader.Length;
        byte extension = 0;
        if (_reorderCount > 0)
        {
            // Selective ACK: bit i is sequence number ack_nr + 2 + i.
            extension = UtpHeader.SelectiveAckExtension;
            datagram[length] = 0;
            datagram[length + 1] = 4;
            uint mask = 0;
            for (int i = 0; i < 32 && i < ReorderSlots - 1; i++)
            {
                ushort seq = (ushort)(_ackNr + 2 + i);
                if (_reorder[seq % ReorderSlots] is not null && _reorderSeq[seq % ReorderSlots] == seq) mask |= 1u << i;
            }
            BinaryPrimitives.WriteUInt32LittleEndian(datagram[(length + 2)..], mask);
            length += 6;
        }
        new UtpHeader(UtpPacketType.State, SendId, (uint)nowMicros, _replyMicros, WindowLeft, _seqNr, _ackNr).WriteTo(datagram, extension);
        _output.Send(datagram[..length], this);
        _lastSentAt = nowMicros;
    }

    private void SendReset(long nowMicros)
    {
        Span<byte> datagram = stackalloc byte[UtpHeader.Length];
        new UtpHeader(UtpPacketType.Reset, SendId, (uint)nowMicros, _replyMicros, 0, _seqNr, _ackNr).WriteTo(datagram);
        _output.Send(datagram, this);
        _counters.ResetSent();
    }

    /// <summary>Ends the connection and gives back every buffer (the peer's and ours).</summary>
    private void Terminate(SocketError error)
    {
        if (State == UtpState.Closed) return;
        State = UtpState.Closed;
        Error = error;
        for (int i = 0; i < _ring.Length; i++)
        {
            if (_ring[i].Buffer is { } buffer) _packets.Return(buffer);
            _ring[i] = default;
        }
        for (int i = 0; i < ReorderSlots; i++)
        {
            if (_reorder[i] is { } early) ArrayPool<byte>.Shared.Return(early);
            _reorder[i] = null;
        }
        _reorderCount = 0;
        if (_received is not null) ArrayPool<byte>.Shared.Return(_received);
        _received = null;
        _receivedCount = 0;
        _inFlight = 0;
        _outstanding = 0;
        _unsentBytes = 0;
        Observer?.Readable();
        Observer?.Writable();
    }

    private static int Distance(ushort from, ushort to) => UtpSequence.Distance(from, to);
}
