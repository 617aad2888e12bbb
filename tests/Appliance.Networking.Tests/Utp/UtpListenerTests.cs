using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Udp;
using Appliance.Networking.Utp;

namespace Appliance.Networking.Tests.Utp;

/// <summary>The listener on a real UDP socket on loopback, with a hand-made client.</summary>
public sealed class UtpListenerTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly DatagramEndpoint _endpoint = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly Acceptor _acceptor = new();
    private readonly UtpCounters _counters = new();
    private readonly UtpListener _listener;
    private readonly Socket _client = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

    public UtpListenerTests()
    {
        _listener = new UtpListener(_endpoint, _acceptor, _counters, maxHalfOpen: 8);
        _listener.Start();
        _endpoint.Start(_listener, "utp-test");
        _client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _client.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
    }

    [Fact]
    public void Packet_for_an_unknown_connection_is_answered_with_a_reset_the_peer_can_match()
    {
        // A dialer that receives on 700 sends with 701; the reset must carry 700.
        SendPacket(UtpPacketType.Data, connectionId: 701, seq: 9, ack: 3);
        var reset = Receive();
        Assert.Equal(UtpPacketType.Reset, reset.Type);
        Assert.Equal(700, reset.ConnectionId);
        Assert.Equal(9, reset.AckNumber);
    }

    [Fact]
    public void Syn_then_data_makes_a_connection_the_acceptor_receives()
    {
        SendPacket(UtpPacketType.Syn, connectionId: 42, seq: 1, ack: 0);
        var state = Receive();
        Assert.Equal(UtpPacketType.State, state.Type);
        Assert.Equal(42, state.ConnectionId);
        SendPacket(UtpPacketType.Data, connectionId: 43, seq: 2, ack: (ushort)(state.SequenceNumber - 1), payload: "hi"u8);
        Assert.Equal(2, Receive().AckNumber);
        Assert.True(_acceptor.Accepted.Wait(Timeout));
        // The listener counts the connection after the acceptor took it, on its receive thread: wait for that, bounded.
        Assert.True(SpinWait.SpinUntil(() => _counters.Read(UtpCounter.ConnectionsAccepted) >= 1, Timeout), "the accepted connection was not counted");
        Assert.Equal(1, _counters.Read(UtpCounter.ConnectionsAccepted));
    }

    [Fact]
    public void Syn_flood_from_one_source_is_held_to_its_share_and_the_rest_is_reset()
    {
        for (int i = 0; i < 100; i++) SendPacket(UtpPacketType.Syn, connectionId: (ushort)(i * 2), seq: 1, ack: 0);
        int states = 0, resets = 0;
        while (states + resets < 100)
        {
            if (Receive().Type == UtpPacketType.State) states++;
            else resets++;
        }
        Assert.Equal(UtpListener.MaxHalfOpenPerSource, states);
        Assert.Equal(100 - UtpListener.MaxHalfOpenPerSource, resets);
        Assert.Equal(UtpListener.MaxHalfOpenPerSource, _listener.HalfOpenCount);
    }

    [Fact]
    public void Syn_flood_from_many_sources_evicts_the_oldest_so_a_new_peer_still_gets_in()
    {
        var sources = Enumerable.Range(0, 20).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)).ToList();
        try
        {
            var syn = new byte[UtpHeader.Length];
            new UtpHeader(UtpPacketType.Syn, 1, 1, 0, 1 << 20, 1, 0).WriteTo(syn);
            foreach (var source in sources)
            {
                source.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                source.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
                source.SendTo(syn, _endpoint.LocalEndPoint);
                var answer = new byte[2048];
                int length = source.Receive(answer); // each one answered, in turn
                Assert.True(UtpHeader.TryParse(answer.AsSpan(0, length), out var header, out _, out _));
                Assert.Equal(UtpPacketType.State, header.Type);
            }
            Assert.Equal(8, _listener.HalfOpenCount);
            Assert.Equal(12, _counters.Read(UtpCounter.HalfOpenRefused));
        }
        finally
        {
            foreach (var source in sources) source.Dispose();
        }
    }

    [Fact]
    public void Garbage_costs_nothing_but_a_count()
    {
        var random = new Random(5);
        var datagram = new byte[64];
        for (int i = 0; i < 500; i++)
        {
            random.NextBytes(datagram);
            datagram[0] = (byte)(random.Next(2) == 0 ? 0x71 : 0x00); // bad type or bad version
            _client.SendTo(datagram.AsSpan(0, random.Next(datagram.Length)), _endpoint.LocalEndPoint);
        }
        SendPacket(UtpPacketType.Data, connectionId: 11, seq: 1, ack: 1);
        Assert.Equal(UtpPacketType.Reset, Receive().Type); // still answering, after all the garbage was read
        Assert.Equal(0, _listener.ConnectionCount);
        Assert.True(_counters.Read(UtpCounter.Dropped) >= 500);
    }

    [Fact]
    public void Data_of_one_received_batch_is_acknowledged_once_at_the_batch_end()
    {
        // A listener fed by hand, as its receive thread feeds it, one batch at a time; what it sends reaches the client.
        using var endpoint = new DatagramEndpoint(new IPEndPoint(IPAddress.Loopback, 0));
        using var listener = new UtpListener(endpoint, _acceptor, new UtpCounters());
        var client = ((IPEndPoint)_client.LocalEndPoint!).Serialize();
        listener.OnDatagram(Packet(UtpPacketType.Syn, connectionId: 42, seq: 1, ack: 0), client);
        listener.OnBatchEnd();
        var state = Receive();
        Assert.Equal(UtpPacketType.State, state.Type);

        for (ushort seq = 2; seq <= 6; seq++)
            listener.OnDatagram(Packet(UtpPacketType.Data, connectionId: 43, seq, ack: (ushort)(state.SequenceNumber - 1), payload: "x"u8), client);
        listener.OnBatchEnd();
        // A packet for no connection is answered at once: had the batch been acknowledged packet by packet, the
        // earlier acks would arrive before this reset.
        listener.OnDatagram(Packet(UtpPacketType.Data, connectionId: 901, seq: 1, ack: 1), client);

        var ack = Receive();
        Assert.Equal(UtpPacketType.State, ack.Type);
        Assert.Equal(6, ack.AckNumber);
        Assert.Equal(UtpPacketType.Reset, Receive().Type);
    }

    private static byte[] Packet(UtpPacketType type, ushort connectionId, ushort seq, ushort ack, ReadOnlySpan<byte> payload = default)
    {
        var datagram = new byte[UtpHeader.Length + payload.Length];
        new UtpHeader(type, connectionId, 1, 0, 1 << 20, seq, ack).WriteTo(datagram);
        payload.CopyTo(datagram.AsSpan(UtpHeader.Length));
        return datagram;
    }

    private void SendPacket(UtpPacketType type, ushort connectionId, ushort seq, ushort ack, ReadOnlySpan<byte> payload = default) =>
        _client.SendTo(Packet(type, connectionId, seq, ack, payload), _endpoint.LocalEndPoint);

    private UtpHeader Receive()
    {
        var buffer = new byte[2048];
        int length = _client.Receive(buffer);
        Assert.True(UtpHeader.TryParse(buffer.AsSpan(0, length), out var header, out _, out _));
        return header;
    }

    public void Dispose()
    {
        _listener.Dispose();
        _endpoint.Dispose();
        _client.Dispose();
    }

    private sealed class Acceptor : IUtpAcceptor
    {
        public ManualResetEventSlim Accepted { get; } = new();

        public bool TryAccept(UtpConnection connection, IPEndPoint remote)
        {
            Accepted.Set();
            return true;
        }
    }
}
