using Appliance.Networking.Buffers;
using Appliance.Networking.Utp;

namespace Appliance.Fuzz.Utp;

/// <summary>
/// One accepted uTP connection (<see cref="UtpConnection"/>, the whole per-connection state machine: it has no socket and
/// no clock of its own) driven by a sequence of events decoded from the input: datagrams from the peer, timer ticks,
/// and the application writing, reading and closing. The listener in front of it (routing, half-open caps) needs a
/// socket and is not part of this target.
/// <para>
/// Each event is one byte whose low 3 bits name it (<see cref="Event"/>), then its arguments. <see cref="Event.Packet"/>
/// builds a packet with sequence and ack numbers relative to where the conversation is (the peer's next sequence
/// number, our highest sent one), so mutations stay near numbers the connection accepts; <see cref="Event.Datagram"/>
/// passes raw bytes through the decoder first.
/// </para>
/// What must hold besides "no exception": every datagram sent decodes, carries the peer's connection id and fits a
/// 1500-byte path; the data packets carry exactly the bytes written, in order, a resend the same bytes as the first
/// send; reads and writes return counts within bounds; once the connection is aborted every packet buffer is back in
/// its pool.
/// </summary>
public static class UtpConnectionTarget
{
    /// <summary>The peer's SYN sequence number: its first data packet is the next one.</summary>
    public const ushort PeerSynSequence = 1;

    /// <summary>Our first sequence number; the SYN is answered with it, and an ack of one less acknowledges nothing.</summary>
    public const ushort OurFirstSequence = 1000;

    public const ushort PeerReceiveId = 4000;

    public const long StartMicros = 1_000_000;

    /// <summary>Events run per input at most (bounded time per input whatever its length).</summary>
    public const int MaxEvents = 4096;

    // The bytes the application writes: position p holds p % 251, so any slip in the sent stream shows.
    private const int PatternPeriod = 251;
    private static readonly byte[] Pattern = [.. Enumerable.Range(0, ushort.MaxValue + PatternPeriod).Select(p => (byte)(p % PatternPeriod))];
    private static readonly byte[] Zeros = new byte[UtpConnection.MaxPacketSize];

    public enum Event : byte
    {
        /// <summary>u16 length, then that many bytes: a datagram, decoded by <see cref="UtpHeader.TryParse"/> first.</summary>
        Datagram,

        /// <summary>Type (bits 3-7 of the event byte, mod 5); s8 sequence offset; s8 ack offset; window (x 4 KiB); SACK length (low 4 bits) and bytes; payload length (x 8).</summary>
        Packet,

        /// <summary>u16 milliseconds pass, then the timers run.</summary>
        Tick,

        /// <summary>u16 bytes written by the application; bit 3 of the event byte: more follow (<c>more</c>).</summary>
        Write,

        /// <summary>u16 bytes the application reads at most.</summary>
        Read,
        Close,
        Abort,

        /// <summary>u8 times 10 seconds pass (idle and half-open timeouts), then the timers run.</summary>
        LongTick,
    }

    public static void Fuzz(ReadOnlySpan<byte> data) => Run(data);

    /// <summary>Runs one input; the state the connection reached before it was aborted. Throws when a property above broke.</summary>
    public static UtpState Run(ReadOnlySpan<byte> data)
    {
        var packets = new PinnedBufferPool(UtpConnection.MaxPacketSize, 64);
        var wire = new Wire();
        long now = StartMicros;
        var syn = new UtpHeader(UtpPacketType.Syn, PeerReceiveId, 1, 0, 1 << 20, PeerSynSequence, 0);
        var connection = new UtpConnection(wire, packets, new UtpCounters(), syn, OurFirstSequence, ipv6: false, now);
        var input = new Input(data);
        ushort peerNext = PeerSynSequence + 1;
        long written = 0;
        var readBuffer = new byte[ushort.MaxValue];
        for (int events = 0; events < MaxEvents && input.More; events++)
        {
            byte code = input.Byte();
            switch ((Event)(code & 7))
            {
                case Event.Datagram:
                    var datagram = input.Bytes(Math.Min(input.UInt16(), UtpConnection.MaxPacketSize));
                    if (UtpHeader.TryParse(datagram, out var parsed, out int payloadOffset, out var parsedSack))
                        connection.OnPacket(parsed, parsedSack, datagram[payloadOffset..], now);
                    break;
                case Event.Packet:
                    var type = (UtpPacketType)((code >> 3) % 5);
                    sbyte seqOffset = (sbyte)input.Byte();
                    ushort seq = (ushort)(peerNext + seqOffset);
                    ushort ack = (ushort)(wire.HighestSent + (sbyte)input.Byte());
                    uint window = (uint)input.Byte() << 12;
                    var sack = input.Bytes(input.Byte() & 15);
                    int payload = Math.Min(input.Byte() * 8, UtpConnection.MaxPacketSize - UtpHeader.Length);
                    var header = new UtpHeader(type, PeerReceiveId + 1, (uint)now, 1000, window, seq, ack);
                    connection.OnPacket(header, sack, Zeros.AsSpan(0, payload), now);
                    if (seqOffset == 0 && type is UtpPacketType.Data or UtpPacketType.Fin) peerNext++;
                    break;
                case Event.Tick:
                    now += input.UInt16() * 1000L;
                    connection.OnTick(now);
                    break;
                case Event.LongTick:
                    now += input.Byte() * 10_000_000L;
                    connection.OnTick(now);
                    break;
                case Event.Write:
                    int length = input.UInt16();
                    int taken = connection.Write(Pattern.AsSpan((int)(written % PatternPeriod), length), now, more: (code & 8) != 0);
                    if (taken < -1 || taken > length) throw new InvalidOperationException($"write took {taken} of {length} bytes");
                    if (taken > 0) written += taken;
                    break;
                case Event.Read:
                    int room = input.UInt16();
                    int read = connection.Read(readBuffer.AsSpan(0, room), now);
                    if (read < 0 || read > room) throw new InvalidOperationException($"read {read} into {room} bytes");
                    break;
                case Event.Close:
                    connection.Close(now);
                    break;
                case Event.Abort:
                    connection.Abort(now);
                    break;
            }
            _ = connection.CanRead;
            _ = connection.CanWrite;
            _ = connection.TryGetEnd(out _);
        }
        if (wire.PayloadSent > written) throw new InvalidOperationException($"sent {wire.PayloadSent} payload bytes of {written} written");
        var reached = connection.State;
        connection.Abort(now);
        if (packets.Rented != 0) throw new InvalidOperationException($"{packets.Rented} packet buffers not returned after the connection ended");
        return reached;
    }

    /// <summary>Reads event arguments; past the end of the input every value is 0.</summary>
    private ref struct Input(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _rest = data;

        public readonly bool More => !_rest.IsEmpty;

        public byte Byte()
        {
            if (_rest.IsEmpty) return 0;
            byte value = _rest[0];
            _rest = _rest[1..];
            return value;
        }

        public int UInt16() => Byte() << 8 | Byte();

        public ReadOnlySpan<byte> Bytes(int count)
        {
            var value = _rest[..Math.Min(count, _rest.Length)];
            _rest = _rest[value.Length..];
            return value;
        }
    }

    /// <summary>The peer's side of the wire: checks what the connection sends.</summary>
    private sealed class Wire : IUtpOutput
    {
        private readonly Dictionary<ushort, byte[]> _sent = [];

        /// <summary>Our highest data or FIN sequence number sent so far (one less than the first before any).</summary>
        public ushort HighestSent { get; private set; } = OurFirstSequence - 1;

        public long PayloadSent { get; private set; }

        public void Send(ReadOnlySpan<byte> datagram, UtpConnection connection)
        {
            if (datagram.Length > UtpConnection.MaxPacketSize) throw new InvalidOperationException($"a {datagram.Length}-byte datagram");
            if (!UtpHeader.TryParse(datagram, out var header, out int payloadOffset, out _)) throw new InvalidOperationException("sent a datagram that does not decode");
            if (header.ConnectionId != PeerReceiveId) throw new InvalidOperationException($"sent on connection id {header.ConnectionId}");
            if (header.Type is not (UtpPacketType.Data or UtpPacketType.Fin)) return;
            var payload = datagram[payloadOffset..];
            int ahead = UtpSequence.Distance(HighestSent, header.SequenceNumber);
            if (ahead > 1) throw new InvalidOperationException($"sequence number {header.SequenceNumber} skips after {HighestSent}");
            if (ahead == 1)
            {
                if (!payload.SequenceEqual(Pattern.AsSpan((int)(PayloadSent % PatternPeriod), payload.Length)))
                    throw new InvalidOperationException($"packet {header.SequenceNumber} does not carry the bytes written at {PayloadSent}");
                _sent[header.SequenceNumber] = payload.ToArray();
                _sent.Remove((ushort)(header.SequenceNumber - UtpConnection.RingSize));
                HighestSent = header.SequenceNumber;
                PayloadSent += payload.Length;
            }
            else if (ahead > -UtpConnection.RingSize && (!_sent.TryGetValue(header.SequenceNumber, out var first) || !payload.SequenceEqual(first)))
            {
                throw new InvalidOperationException($"resent packet {header.SequenceNumber} differs from its first send");
            }
        }
    }
}
