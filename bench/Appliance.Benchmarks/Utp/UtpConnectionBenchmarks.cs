using System.Buffers.Binary;
using Appliance.Networking.Buffers;
using Appliance.Networking.Utp;
using BenchmarkDotNet.Attributes;

namespace Appliance.Benchmarks.Utp;

/// <summary>
/// The uTP state machine without a socket: a 16 KiB block written into packets and sent, then acknowledged by the
/// peer (the seed's steady state), and a peer's request packet received and read. The budget is 0 B per operation.
/// </summary>
[MemoryDiagnoser]
public class UtpConnectionBenchmarks
{
    private const int BlockBytes = 16 * 1024;
    private readonly byte[] _block = new byte[BlockBytes];
    private readonly byte[] _request = new byte[17];
    private readonly byte[] _readBuffer = new byte[4096];
    private readonly Sink _sink = new();
    private UtpConnection _connection = null!;
    private ushort _peerSeq;
    private long _now = 1_000_000;

    private sealed class Sink : IUtpOutput
    {
        public ushort LastDataSeq;
        public long Bytes;

        public void Send(ReadOnlySpan<byte> datagram, UtpConnection connection)
        {
            Bytes += datagram.Length;
            if (datagram[0] >> 4 == (int)UtpPacketType.Data) LastDataSeq = BinaryPrimitives.ReadUInt16BigEndian(datagram[16..]);
        }
    }

    [GlobalSetup]
    public void Setup()
    {
        var packets = new PinnedBufferPool(UtpConnection.MaxPacketSize, 1024);
        var syn = new UtpHeader(UtpPacketType.Syn, 1000, 1, 0, 1 << 20, 1, 0);
        _connection = new UtpConnection(_sink, packets, new UtpCounters(), syn, 100, ipv6: false, _now);
        _peerSeq = 2;
        Deliver(UtpPacketType.Data, 99, _request);
        _connection.Read(_readBuffer, _now);
        for (int i = 0; i < 100; i++) SendBlock(); // open the window, settle the packet size
    }

    [Benchmark(OperationsPerInvoke = 16)]
    public long SendBlockAndAcknowledge()
    {
        for (int i = 0; i < 16; i++) SendBlock();
        return _sink.Bytes;
    }

    [Benchmark(OperationsPerInvoke = 16)]
    public int ReceiveRequest()
    {
        int read = 0;
        for (int i = 0; i < 16; i++)
        {
            Deliver(UtpPacketType.Data, (ushort)(_sink.LastDataSeq), _request);
            read += _connection.Read(_readBuffer, _now);
        }
        return read;
    }

    private void SendBlock()
    {
        _now += 100;
        if (_connection.Write(_block, _now) != BlockBytes) throw new InvalidOperationException("the window did not take a block");
        _now += 100;
        Deliver(UtpPacketType.State, _sink.LastDataSeq, default);
    }

    private void Deliver(UtpPacketType type, ushort ack, ReadOnlySpan<byte> payload)
    {
        var header = new UtpHeader(type, 1001, (uint)_now, 50, 1 << 20, type == UtpPacketType.Data ? _peerSeq++ : _peerSeq, ack);
        _connection.OnPacket(header, default, payload, _now);
    }
}
