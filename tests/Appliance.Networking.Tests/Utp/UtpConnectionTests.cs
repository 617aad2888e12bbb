using System.Net.Sockets;
using Appliance.Networking.Buffers;
using Appliance.Networking.Utp;

namespace Appliance.Networking.Tests.Utp;

/// <summary>The uTP state machine driven packet by packet with a fake clock and a list for a wire.</summary>
public sealed class UtpConnectionTests
{
    // The peer dials with receive id 1000 (so we send with 1000 and receive on 1001); its SYN is sequence number 1.
    private const ushort PeerRecvId = 1000;
    private const ushort OurFirstSeq = 500;
    private const uint BigWindow = 1 << 20;

    private readonly Wire _wire = new();
    private readonly UtpCounters _counters = new();
    private readonly PinnedBufferPool _packets = new(UtpConnection.MaxPacketSize, 64);
    private long _now = 1_000_000;

    private UtpConnection Accept()
    {
        var syn = new UtpHeader(UtpPacketType.Syn, PeerRecvId, 1, 0, BigWindow, 1, 0);
        return new UtpConnection(_wire, _packets, _counters, syn, OurFirstSeq, ipv6: false, _now);
    }

    private bool Send(UtpConnection c, UtpPacketType type, ushort seq, ushort ack, ReadOnlySpan<byte> payload = default, byte[]? sack = null, uint window = BigWindow)
    {
        var header = new UtpHeader(type, PeerRecvId + 1, (uint)_now, 1000, window, seq, ack);
        return c.OnPacket(header, sack, payload, _now);
    }

    [Fact]
    public void Syn_is_answered_with_a_state_that_carries_our_sequence_number_and_acks_the_syn()
    {
        var c = Accept();
        var state = _wire.Last;
        Assert.Equal(UtpPacketType.State, state.Type);
        Assert.Equal(PeerRecvId, state.ConnectionId);
        Assert.Equal(OurFirstSeq, state.SequenceNumber);
        Assert.Equal(1, state.AckNumber);
        Assert.Equal(UtpState.SynReceived, c.State);
    }

    [Fact]
    public void First_data_establishes_the_connection_and_is_read_and_acknowledged()
    {
        var c = Accept();
        Assert.True(Send(c, UtpPacketType.Data, 2, OurFirstSeq - 1, "hello"u8));
        Assert.Equal(UtpState.Connected, c.State);
        var buffer = new byte[16];
        Assert.Equal(5, c.Read(buffer, _now));
        Assert.Equal("hello"u8.ToArray(), buffer[..5]);
        Assert.Equal(2, _wire.Last.AckNumber);
    }

    [Fact]
    public void Early_packets_wait_are_selectively_acknowledged_and_follow_in_order()
    {
        var c = Accept();
        Send(c, UtpPacketType.Data, 2, OurFirstSeq - 1, "a"u8);
        Send(c, UtpPacketType.Data, 4, OurFirstSeq - 1, "c"u8);
        Send(c, UtpPacketType.Data, 5, OurFirstSeq - 1, "d"u8);
        var ack = _wire.LastDatagram;
        Assert.True(UtpHeader.TryParse(ack, out var header, out _, out var sack));
        Assert.Equal(2, header.AckNumber);
        Assert.True(UtpHeader.SackBit(sack, 0)); // 4 = ack + 2
        Assert.True(UtpHeader.SackBit(sack, 1)); // 5
        Send(c, UtpPacketType.Data, 4, OurFirstSeq - 1, "c"u8); // a duplicate of an early packet changes nothing

        Send(c, UtpPacketType.Data, 3, OurFirstSeq - 1, "b"u8);
        Assert.Equal(5, _wire.Last.AckNumber);
        var buffer = new byte[8];
        Assert.Equal("abcd"u8.ToArray(), buffer[..c.Read(buffer, _now)]);
    }

    [Fact]
    public void Written_bytes_leave_in_packets_that_fit_a_1500_byte_path_and_acks_release_them()
    {
        var c = Established();
        var data = new byte[50_000];
        Random.Shared.NextBytes(data);
        Assert.Equal(data.Length, c.Write(data, _now));
        AckEverything(c);

        var sent = _wire.DataPackets();
        Assert.All(sent, p => Assert.True(p.Length <= UtpConnection.MaxPacketSize));
        Assert.Equal(UtpConnection.MaxPacketSize, sent[0].Length); // the first full packet probes the path
        Assert.Equal(data, sent.SelectMany(p => p[UtpHeader.Length..]).ToArray());
        Assert.True(c.CanWrite);
        var buckets = new long[_counters.Rtt.BucketCount];
        _counters.Rtt.Read(buckets);
        Assert.True(buckets.Sum() > 0); // round trips measured
        _now += 10_000_000;
        c.OnTick(_now);
        Assert.Equal(0, _counters.Read(UtpCounter.Timeouts)); // nothing left in flight to time out
    }

    [Fact]
    public void A_piece_header_shares_its_packet_with_the_block_that_follows()
    {
        var c = Established();
        c.Write(new byte[13], _now, more: true);
        Assert.Empty(_wire.DataPackets()); // held: the block follows at once
        c.Write(new byte[2000], _now);
        var sent = _wire.DataPackets();
        Assert.Equal(2, sent.Count);
        Assert.Equal(2013, sent.Sum(p => p.Length - UtpHeader.Length));
    }

    [Fact]
    public void Timeout_resends_the_oldest_packet_backs_off_and_finally_resets()
    {
        var c = Established();
        c.Write(new byte[3000], _now);
        int before = _wire.Count;
        _now += UtpCongestion.InitialRtoMicros + 1;
        c.OnTick(_now);
        Assert.Equal(1, _counters.Read(UtpCounter.Timeouts));
        Assert.Equal(OurFirstSeq, _wire.Headers().Skip(before).Single(h => h.Type == UtpPacketType.Data).SequenceNumber);

        for (int i = 0; i < 20 && c.State != UtpState.Closed; i++)
        {
            _now += UtpCongestion.MaxRtoMicros;
            c.OnTick(_now);
        }
        Assert.Equal(UtpState.Closed, c.State);
        Assert.Equal(SocketError.TimedOut, c.Error);
        Assert.Equal(UtpPacketType.Reset, _wire.Last.Type);
        Assert.Equal(0, _packets.Rented); // every packet buffer came back
    }

    [Fact]
    public void Three_duplicate_acks_resend_the_first_unacknowledged_packet()
    {
        var c = Established();
        c.Write(new byte[6000], _now);
        int before = _wire.Count;
        for (int i = 0; i < 3; i++) Send(c, UtpPacketType.State, 2, OurFirstSeq - 1);
        Assert.Equal(1, _counters.Read(UtpCounter.FastRetransmits));
        Assert.Equal(OurFirstSeq, _wire.Headers().Skip(before).Single(h => h.Type == UtpPacketType.Data).SequenceNumber);
    }

    [Fact]
    public void Selective_ack_of_three_packets_past_a_hole_resends_the_hole()
    {
        var c = Established();
        c.Write(new byte[30_000], _now);
        ushort acked = AckEverything(c); // the window is open now
        int mark = _wire.Count;
        c.Write(new byte[6000], _now);
        int before = _wire.Count;
        Assert.True(before - mark >= 5, $"{before - mark} packets in flight");
        // ack the first new packet, sack the third to fifth: the second is the hole (bit i is ack + 2 + i).
        Send(c, UtpPacketType.State, 2, (ushort)(acked + 1), sack: [0b111]);
        Assert.Equal((ushort)(acked + 2), _wire.Headers().Skip(before).Single(h => h.Type == UtpPacketType.Data).SequenceNumber);
        Assert.Equal(1, _counters.Read(UtpCounter.FastRetransmits));
    }

    [Fact]
    public void A_resend_lost_again_is_resent_once_three_packets_sent_after_it_are_selectively_acked()
    {
        var c = Established();
        c.Write(new byte[30_000], _now);
        ushort acked = AckEverything(c);
        c.Write(new byte[6000], _now); // ack+1 .. ack+5 in flight
        int before = _wire.Count;
        _now += 1000;
        Send(c, UtpPacketType.State, 2, acked, sack: [0b111]); // the hole is acked+1; acked+2 .. +4 arrived (bit i: ack + 2 + i)
        Assert.Equal(1, _counters.Read(UtpCounter.FastRetransmits));
        Assert.Equal((ushort)(acked + 1), _wire.Headers().Skip(before).Single(h => h.Type == UtpPacketType.Data).SequenceNumber);

        // The same ack again says nothing new: no second resend.
        Send(c, UtpPacketType.State, 2, acked, sack: [0b111]);
        Assert.Equal(1, _counters.Read(UtpCounter.FastRetransmits));

        // Three packets sent after the resend arrive, the hole still does not: the resend was lost too.
        _now += 1000;
        c.Write(new byte[4000], _now);
        int mark = _wire.Count;
        Send(c, UtpPacketType.State, 2, acked, sack: [0b1111_1111]);
        Assert.Equal(2, _counters.Read(UtpCounter.FastRetransmits));
        Assert.Contains(_wire.Headers().Skip(mark), h => h.Type == UtpPacketType.Data && h.SequenceNumber == (ushort)(acked + 1));
    }

    [Fact]
    public void Window_updates_are_not_taken_for_duplicate_acks()
    {
        var c = Established();
        c.Write(new byte[6000], _now);
        for (int i = 0; i < 4; i++) Send(c, UtpPacketType.State, 2, OurFirstSeq - 1, window: (uint)(20_000 + i * 3000)); // the reader making room
        Assert.Equal(0, _counters.Read(UtpCounter.FastRetransmits));
    }

    [Fact]
    public void The_peers_window_bounds_selectively_acked_packets_too_and_a_closed_window_is_probed_without_a_congestion_timeout()
    {
        var c = Established();
        c.Write(new byte[30_000], _now);
        ushort acked = AckEverything(c);
        // A 10-packet window, of which the peer holds three early packets behind a hole: they will take room once it fills.
        uint window = (uint)(10 * c.PacketSize);
        c.Write(new byte[40_000], _now);
        Send(c, UtpPacketType.State, 2, acked, window: window);
        int mark = _wire.Count;
        Send(c, UtpPacketType.State, 2, acked, sack: [0b1110], window: window);
        var sent = _wire.Headers().Skip(mark).Where(h => h.Type == UtpPacketType.Data).Select(h => Distance(acked, h.SequenceNumber)).ToList();
        Assert.All(sent, d => Assert.InRange(d, 1, 10)); // the hole again, nothing beyond ack + window

        // Everything acknowledged, and the window closed: nothing new goes until the probe time, and that is no timeout.
        ushort last = (ushort)(acked + _wire.Headers().Where(h => h.Type == UtpPacketType.Data).Select(h => Distance(acked, h.SequenceNumber)).Max());
        Send(c, UtpPacketType.State, 2, last, window: 0);
        int quiet = _wire.DataPackets().Count;
        c.OnTick(_now + 1000);
        Assert.Equal(quiet, _wire.DataPackets().Count);
        _now += UtpCongestion.InitialRtoMicros + 1;
        c.OnTick(_now);
        Assert.Equal(quiet + 1, _wire.DataPackets().Count);
        Assert.Equal(0, _counters.Read(UtpCounter.Timeouts));

        // The reader makes room: the peer's update reopens the flow at once.
        Send(c, UtpPacketType.State, 2, last, window: BigWindow);
        Assert.True(_wire.DataPackets().Count > quiet + 1);
    }

    private static int Distance(ushort from, ushort to) => UtpSequence.Distance(from, to);

    [Fact]
    public void Packets_selectively_acked_before_the_cumulative_ack_reaches_them_give_their_buffers_back()
    {
        var c = Established();
        c.Write(new byte[30_000], _now);
        ushort acked = AckEverything(c);
        Assert.Equal(0, _packets.Rented);
        int mark = _wire.Count;
        c.Write(new byte[6000], _now);
        int sent = _wire.Count - mark;
        Assert.True(sent >= 5, $"{sent} packets in flight");
        Send(c, UtpPacketType.State, 2, acked, sack: [0b1110]); // a hole at acked+1 and +2, then three sacked
        Send(c, UtpPacketType.State, 2, (ushort)(acked + sent)); // the hole is filled: everything is acknowledged

        Assert.Equal(0, _packets.Rented); // the sacked packets' buffers too, not only those the cumulative ack released
    }

    [Fact]
    public void Ack_of_data_never_sent_is_ignored()
    {
        var c = Established();
        c.Write(new byte[3000], _now);
        long dropped = _counters.Read(UtpCounter.Dropped);
        Send(c, UtpPacketType.State, 2, OurFirstSeq + 100);
        Assert.Equal(dropped + 1, _counters.Read(UtpCounter.Dropped));
        _now += UtpCongestion.InitialRtoMicros + 1;
        c.OnTick(_now);
        Assert.Equal(1, _counters.Read(UtpCounter.Timeouts)); // the forged ack released nothing
    }

    [Fact]
    public void Send_progress_counts_acknowledged_bytes_and_stays_pending_while_the_peers_window_is_closed()
    {
        var c = Established();
        Assert.False(c.SendProgress.Pending);
        Assert.Equal(20_000, c.Write(new byte[20_000], _now));
        Assert.True(c.SendProgress.Pending);
        ushort last = AckEverything(c);
        var drained = c.SendProgress;
        Assert.False(drained.Pending);
        Assert.True(drained.Acknowledged >= 20_000);

        // The peer stops reading: its window closes, what we write waits, and nothing more is acknowledged.
        _now += 1000;
        Send(c, UtpPacketType.State, 2, last, window: 0);
        Assert.Equal(5000, c.Write(new byte[5000], _now));
        _now += 1000;
        Send(c, UtpPacketType.State, 2, last, window: 0);
        Assert.True(c.SendProgress.Pending);
        Assert.Equal(drained.Acknowledged, c.SendProgress.Acknowledged);
    }

    [Fact]
    public void The_peers_window_bounds_what_is_in_flight_and_a_huge_one_is_bounded_by_ours()
    {
        var c = Accept();
        Send(c, UtpPacketType.Data, 2, OurFirstSeq - 1, "x"u8, window: 2500);
        c.Write(new byte[20_000], _now);
        Assert.InRange(_wire.DataPackets().Sum(p => p.Length), 1, 2500 + UtpConnection.SafePacketSize);

        var d = new UtpConnectionTests().Established(window: uint.MaxValue);
        int written = d.Write(new byte[1 << 20], _now);
        Assert.True(written <= UtpConnection.MaxUnsentBytes + UtpConnection.RingSize * UtpConnection.MaxPacketSize);
    }

    [Fact]
    public void Fin_from_the_peer_ends_the_stream_after_its_data()
    {
        var c = Established();
        Send(c, UtpPacketType.Data, 3, OurFirstSeq - 1, "last"u8);
        Send(c, UtpPacketType.Fin, 4, OurFirstSeq - 1);
        Assert.False(c.TryGetEnd(out _));
        var buffer = new byte[16];
        Assert.Equal(5, c.Read(buffer, _now)); // "x" from Established, then "last"
        Assert.True(c.TryGetEnd(out var error));
        Assert.Equal(SocketError.Success, error);
        Assert.Equal(4, _wire.Last.AckNumber);
    }

    [Fact]
    public void A_fin_numbered_before_what_was_received_does_not_hide_the_real_end()
    {
        var c = Established();
        Send(c, UtpPacketType.Fin, 1, OurFirstSeq - 1); // already past: a duplicate or a forgery, not the end
        Send(c, UtpPacketType.Data, 3, OurFirstSeq - 1, "last"u8);
        Send(c, UtpPacketType.Fin, 4, OurFirstSeq - 1);
        var buffer = new byte[16];
        Assert.Equal(5, c.Read(buffer, _now));
        Assert.True(c.TryGetEnd(out var error));
        Assert.Equal(SocketError.Success, error);
    }

    [Fact]
    public void Close_sends_what_was_written_then_a_fin_and_ends_once_both_are_acknowledged()
    {
        var c = Established();
        c.Write("bye"u8, _now);
        c.Close(_now);
        var headers = _wire.Headers().ToList();
        Assert.Equal(UtpPacketType.Fin, headers[^1].Type);
        Assert.Equal(UtpPacketType.Data, headers[^2].Type);
        Assert.Equal(UtpState.Closing, c.State);
        Send(c, UtpPacketType.State, 2, headers[^1].SequenceNumber);
        Assert.Equal(UtpState.Closed, c.State);
        Assert.Equal(0, _packets.Rented);
    }

    [Fact]
    public void Data_beyond_the_receive_window_is_not_acknowledged_until_read()
    {
        var c = Established();
        var chunk = new byte[1400];
        ushort seq = 3;
        while (true)
        {
            Send(c, UtpPacketType.Data, seq, OurFirstSeq - 1, chunk);
            if (_wire.Last.AckNumber != seq) break;
            seq++;
        }
        Assert.True((seq - 3) * chunk.Length <= UtpConnection.ReceiveBufferSize);
        var buffer = new byte[UtpConnection.ReceiveBufferSize];
        Assert.True(c.Read(buffer, _now) > 0);
        Send(c, UtpPacketType.Data, seq, OurFirstSeq - 1, chunk);
        Assert.Equal(seq, _wire.Last.AckNumber);
    }

    [Fact]
    public void Half_open_connection_ends_after_its_timeout()
    {
        var c = Accept();
        _now += UtpConnection.HalfOpenTimeoutMicros + 1;
        c.OnTick(_now);
        Assert.Equal(UtpState.Closed, c.State);
    }

    [Fact]
    public void Reset_from_the_peer_ends_the_connection_with_an_error()
    {
        var c = Established();
        Send(c, UtpPacketType.Reset, 3, OurFirstSeq - 1);
        Assert.True(c.TryGetEnd(out var error));
        Assert.Equal(SocketError.ConnectionReset, error);
    }

    /// <summary>Acknowledges every data packet sent, again and again until nothing is in flight; returns the last sequence number.</summary>
    private ushort AckEverything(UtpConnection c)
    {
        ushort last = 0;
        for (int round = 0; round < 1000; round++)
        {
            var data = _wire.Headers().Where(h => h.Type == UtpPacketType.Data).ToList();
            if (data.Count == 0 || data[^1].SequenceNumber == last) return last;
            last = data[^1].SequenceNumber;
            _now += 1000;
            Send(c, UtpPacketType.State, 2, last);
        }
        throw new InvalidOperationException("the connection kept sending");
    }

    [Fact]
    public void Reset_acknowledging_data_never_sent_is_ignored()
    {
        var c = Established();
        Send(c, UtpPacketType.Reset, 3, OurFirstSeq + 1000);
        Assert.Equal(UtpState.Connected, c.State);
    }

    [Fact]
    public void Early_packets_the_full_receive_buffer_held_back_follow_when_the_reader_makes_room()
    {
        // Regression: they stayed in the reorder buffer for ever, while the peer, which had them selectively
        // acknowledged, never sent them again; a dialer uploading and downloading at once stalled on it.
        var c = Accept();
        Send(c, UtpPacketType.Data, 2, OurFirstSeq - 1, new byte[UtpConnection.ReceiveBufferSize - 1500]);
        Send(c, UtpPacketType.Data, 4, OurFirstSeq - 1, Enumerable.Repeat((byte)4, 1000).ToArray());
        Send(c, UtpPacketType.Data, 5, OurFirstSeq - 1, Enumerable.Repeat((byte)5, 1000).ToArray());
        Send(c, UtpPacketType.Data, 3, OurFirstSeq - 1, Enumerable.Repeat((byte)3, 400).ToArray());
        Assert.Equal(4, _wire.Last.AckNumber); // 5 has no room yet

        var buffer = new byte[UtpConnection.ReceiveBufferSize];
        int first = c.Read(buffer, _now);
        Assert.Equal(UtpConnection.ReceiveBufferSize - 100, first);
        Assert.Equal(5, _wire.Last.AckNumber); // the reader made room: 5 followed and the peer is told
        Assert.Equal(1000, c.Read(buffer, _now));
        Assert.All(buffer[..1000], b => Assert.Equal(5, b));
    }

    // Dialing: we receive on DialRecvId and send with DialRecvId + 1; our SYN is sequence number OurFirstSeq.
    private const ushort DialRecvId = 3000;
    private const ushort PeerFirstSeq = 7000;

    private UtpConnection Dial() =>
        UtpConnection.Dial(_wire, _packets, _counters, DialRecvId, OurFirstSeq, ipv6: false, _now);

    private bool Answer(UtpConnection c, UtpPacketType type, ushort seq, ushort ack, ReadOnlySpan<byte> payload = default) =>
        c.OnPacket(new UtpHeader(type, DialRecvId, (uint)_now, 1000, BigWindow, seq, ack), default, payload, _now);

    [Fact]
    public void Dialing_sends_a_syn_naming_our_receive_id_and_the_state_that_acks_it_establishes_the_connection()
    {
        var c = Dial();
        var syn = _wire.Last;
        Assert.Equal(UtpPacketType.Syn, syn.Type);
        Assert.Equal(DialRecvId, syn.ConnectionId);
        Assert.Equal(OurFirstSeq, syn.SequenceNumber);
        Assert.Equal(UtpState.SynSent, c.State);
        Assert.False(c.CanWrite);
        Assert.Equal(-1, c.Write("early"u8, _now));

        Assert.False(Answer(c, UtpPacketType.State, PeerFirstSeq, OurFirstSeq - 1)); // acks something before our SYN
        Assert.Equal(UtpState.SynSent, c.State);
        Assert.True(Answer(c, UtpPacketType.State, PeerFirstSeq, OurFirstSeq));
        Assert.Equal(UtpState.Connected, c.State);
        Assert.True(c.CanWrite);
        Assert.Equal(0, _packets.Rented); // the acknowledged SYN's buffer came back
    }

    [Fact]
    public void Dialed_connection_carries_data_both_ways_with_the_ids_and_numbers_bep_29_gives()
    {
        var c = Dial();
        Answer(c, UtpPacketType.State, PeerFirstSeq, OurFirstSeq);
        Assert.Equal(5, c.Write("hello"u8, _now));
        var data = _wire.Last;
        Assert.Equal(UtpPacketType.Data, data.Type);
        Assert.Equal(DialRecvId + 1, data.ConnectionId);
        Assert.Equal(OurFirstSeq + 1, data.SequenceNumber);
        Assert.Equal(PeerFirstSeq - 1, data.AckNumber); // the peer's STATE used no sequence number

        // The peer's first data packet carries the number its STATE carried.
        Answer(c, UtpPacketType.Data, PeerFirstSeq, OurFirstSeq + 1, "world"u8);
        var buffer = new byte[16];
        Assert.Equal("world"u8.ToArray(), buffer[..c.Read(buffer, _now)]);
        Assert.Equal(PeerFirstSeq, _wire.Last.AckNumber);
        Assert.Equal(DialRecvId + 1, _wire.Last.ConnectionId);
    }

    [Fact]
    public void Unanswered_syn_is_resent_after_the_timeout_and_the_dial_gives_up_timed_out()
    {
        var c = Dial();
        _now += UtpCongestion.InitialRtoMicros + 1;
        c.OnTick(_now);
        Assert.Equal(2, _wire.Headers().Count(h => h.Type == UtpPacketType.Syn && h.SequenceNumber == OurFirstSeq && h.ConnectionId == DialRecvId));
        for (int i = 0; i < 100 && c.State != UtpState.Closed; i++)
        {
            _now += 500_000;
            c.OnTick(_now);
        }
        Assert.Equal(UtpState.Closed, c.State);
        Assert.Equal(SocketError.TimedOut, c.Error);
        Assert.Equal(0, _packets.Rented);
    }

    [Fact]
    public void Reset_in_answer_to_our_syn_refuses_the_dial()
    {
        var c = Dial();
        Answer(c, UtpPacketType.Reset, 1, OurFirstSeq);
        Assert.Equal(UtpState.Closed, c.State);
        Assert.Equal(SocketError.ConnectionRefused, c.Error);
        Assert.True(c.TryGetEnd(out var error));
        Assert.Equal(SocketError.ConnectionRefused, error);
    }

    private UtpConnection Established(uint window = BigWindow)
    {
        var c = Accept();
        Send(c, UtpPacketType.Data, 2, OurFirstSeq - 1, "x"u8, window: window);
        return c;
    }

    private sealed class Wire : IUtpOutput
    {
        private readonly List<byte[]> _sent = [];

        public int Count => _sent.Count;
        public byte[] LastDatagram => _sent[^1];
        public UtpHeader Last => Parse(_sent[^1]);

        public void Send(ReadOnlySpan<byte> datagram, UtpConnection connection) => _sent.Add(datagram.ToArray());

        public IEnumerable<UtpHeader> Headers() => _sent.Select(Parse);

        public List<byte[]> DataPackets() => _sent.Where(d => Parse(d).Type == UtpPacketType.Data).ToList();

        private static UtpHeader Parse(byte[] datagram)
        {
            Assert.True(UtpHeader.TryParse(datagram, out var header, out _, out _));
            return header;
        }
    }
}
