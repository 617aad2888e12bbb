using System.Buffers.Binary;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.TrackerWire;
using Appliance.Trackers;
using Appliance.Trackers.Embedded;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Benchmarks.Trackers;

/// <summary>
/// A BEP 15 datagram through the embedded tracker without a socket: parse, check the connection id, update the swarm,
/// sample peers into the reply. The budget is 0 B allocated per packet.
/// </summary>
[MemoryDiagnoser]
public class UdpTrackerBenchmarks
{
    private readonly byte[] _reply = new byte[UdpTrackerServer.MaxReplyBytes];
    private UdpTrackerServer _server = null!;
    private byte[] _connect = [];
    private byte[] _announce = [];
    private byte[] _scrape = [];
    private readonly PeerAddress _source = PeerAddress.FromV4(0x0A000001, 40000);

    // The connection-id secret rotates every minute: a frozen clock keeps the benchmark on the valid-id path.
    private sealed class FrozenTime : TimeProvider
    {
        public override long GetTimestamp() => 1_000_000;
    }

    [GlobalSetup]
    public void Setup()
    {
        var time = new FrozenTime();
        var store = new SwarmStore(new SwarmStoreOptions { Open = true, MaxAnnouncesPerSecondPerAddress = 0 }, time);
        var hashes = Enumerable.Range(0, 10).Select(i => InfoHash.Compute(BitConverter.GetBytes(i))).ToArray();
        var scratch = new byte[1200];
        // A swarm of 1,000 peers from as many addresses, a quarter seeds.
        for (uint i = 1; i <= 1000; i++)
            store.Announce(hashes[0], PeerAddress.FromV4(0x0B000000 + i, 6881), i % 4 == 0, AnnounceEvent.Started, 0, scratch, default);
        _server = new UdpTrackerServer(store, new ConnectionIdIssuer(time), new TrackerCounters(), NullLogger.Instance);

        _connect = new byte[UdpTrackerPacket.ConnectLength];
        UdpTrackerPacket.WriteConnectRequest(_connect, 1);
        _server.Handle(_connect, _source, _reply);
        long connectionId = BinaryPrimitives.ReadInt64BigEndian(_reply.AsSpan(8));
        _announce = new byte[UdpTrackerPacket.AnnounceRequestLength];
        UdpTrackerPacket.WriteAnnounceRequest(_announce, connectionId, 2, new AnnounceRequest
        {
            InfoHash = hashes[0], PeerId = new byte[20], Port = 6881, Left = 1000, NumWant = 50,
        });
        _scrape = new byte[UdpTrackerPacket.ScrapeRequestHeaderLength + hashes.Length * InfoHash.Length];
        UdpTrackerPacket.WriteScrapeRequest(_scrape, connectionId, 3, hashes);
    }

    [Benchmark]
    public int Connect() => _server.Handle(_connect, _source, _reply);

    [Benchmark]
    public int AnnounceNumWant50() => _server.Handle(_announce, _source, _reply);

    [Benchmark]
    public int Scrape10() => _server.Handle(_scrape, _source, _reply);
}
