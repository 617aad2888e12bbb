using Appliance.Dht;
using Appliance.Dht.Node;
using Appliance.Protocol.Krpc;
using BenchmarkDotNet.Attributes;

namespace Appliance.Benchmarks.Dht;

/// <summary>
/// A query datagram through the real DHT engine without a socket: parse, rate limit, routing-table lookup,
/// token, encode the response into the send buffer. The budget is 0 B allocated per query.
/// </summary>
[MemoryDiagnoser]
public class DhtQueryBenchmarks
{
    private DhtEngine _engine = null!;
    private byte[] _getPeers = [];
    private byte[] _getPeersWithValues = [];
    private byte[] _findNode = [];
    private byte[] _parseOnly = [];
    private readonly CompactPeer _source = new(0x0A000001, 6881);

    private sealed class CountingSink : IDatagramSender
    {
        public long Bytes;

        public void Send(ReadOnlySpan<byte> datagram, CompactPeer destination) => Bytes += datagram.Length;
    }

    [GlobalSetup]
    public void Setup()
    {
        _engine = new DhtEngine(new DhtNodeOptions { Id = NodeId.Random(), PacketsPerSecondPerSource = 1e12, BurstPerSource = 1e12 },
            new CountingSink(), TimeProvider.System);
        var sourceId = NodeId.Random();
        // A routing table of a few hundred nodes, the querier among them (a known node: no verification ping).
        for (int i = 1; i <= 300; i++)
        {
            var id = i == 1 ? sourceId : NodeId.Random();
            _engine.WithTable(t => t.AddVerified(id, new CompactPeer(0x0A000000u + (uint)i, 6881)));
        }
        var swarm = NodeId.Random();
        for (uint i = 1; i <= 100; i++) _engine.Peers.Announce(swarm, new CompactPeer(0x0B000000u + i, 6881));
        var buffer = new byte[1500];
        _getPeers = buffer.AsSpan(0, KrpcWriter.WriteGetPeers(buffer, "gp"u8, sourceId.ToArray(), NodeId.Random().ToArray(), "LT\x02\x00"u8)).ToArray();
        _getPeersWithValues = buffer.AsSpan(0, KrpcWriter.WriteGetPeers(buffer, "gv"u8, sourceId.ToArray(), swarm.ToArray(), "LT\x02\x00"u8)).ToArray();
        _findNode = buffer.AsSpan(0, KrpcWriter.WriteFindNode(buffer, "fn"u8, sourceId.ToArray(), NodeId.Random().ToArray(), "LT\x02\x00"u8)).ToArray();
        _parseOnly = _getPeers;
    }

    [Benchmark]
    public KrpcMethod ParseGetPeers()
    {
        KrpcParser.Parse(_parseOnly, out var message);
        return message.Method;
    }

    [Benchmark]
    public void AnswerGetPeersWithNodes() => _engine.Receive(_getPeers, _source);

    [Benchmark]
    public void AnswerGetPeersWithValues() => _engine.Receive(_getPeersWithValues, _source);

    [Benchmark]
    public void AnswerFindNode() => _engine.Receive(_findNode, _source);
}
