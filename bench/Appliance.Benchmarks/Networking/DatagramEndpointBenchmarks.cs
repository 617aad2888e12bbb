using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Udp;
using BenchmarkDotNet.Attributes;

namespace Appliance.Benchmarks.Networking;

/// <summary>
/// The datagram endpoint's two send paths over loopback, each operation a batch of 32 datagrams and the receiver drained
/// after it: a window of equal-sized uTP packets to one peer (one <c>sendmmsg</c>, segmented with UDP GSO where the kernel
/// has it), and a batch of replies each with its own destination (the embedded tracker's, the DHT's). The budget is 0 B
/// allocated per batch. The receive side's 0 B per datagram is proven by DatagramEndpointTests on its receive thread.
/// </summary>
[MemoryDiagnoser]
public class DatagramEndpointBenchmarks
{
    private const int Batch = 32;
    private const int PacketBytes = 1452;

    private DatagramEndpoint _endpoint = null!;
    private Socket _receiver = null!;
    private SocketAddress _destination = null!;
    private SocketAddress _from = null!;
    private readonly byte[] _drain = new byte[65536];
    private readonly byte[][] _packets = new byte[Batch][];
    private readonly int[] _lengths = new int[Batch];
    private DatagramBatch _replies = null!;

    [GlobalSetup]
    public void Setup()
    {
        _endpoint = new DatagramEndpoint(new IPEndPoint(IPAddress.Loopback, 0));
        _receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 4 << 20 };
        _receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _destination = ((IPEndPoint)_receiver.LocalEndPoint!).Serialize();
        _from = new SocketAddress(AddressFamily.InterNetwork);
        for (int i = 0; i < Batch; i++)
        {
            _packets[i] = GC.AllocateArray<byte>(PacketBytes, pinned: true);
            _lengths[i] = PacketBytes;
        }
        _replies = new DatagramBatch(Batch, 256);
        for (int i = 0; i < Batch; i++)
        {
            _replies.Next[..100].Fill((byte)i);
            _replies.Add(100, _destination);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _endpoint.Dispose();
        _receiver.Dispose();
    }

    [Benchmark]
    public int WindowToOnePeer()
    {
        _endpoint.SendMany(_packets, _lengths, _destination);
        return Drain();
    }

    [Benchmark]
    public int RepliesToTheirSources()
    {
        // The batch was filled once in Setup; sending leaves it as it was.
        _endpoint.Send(_replies);
        return Drain();
    }

    private int Drain()
    {
        int received = 0;
        while (_receiver.Available > 0) received += _receiver.ReceiveFrom(_drain, SocketFlags.None, _from);
        return received;
    }
}
