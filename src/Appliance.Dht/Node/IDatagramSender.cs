using Appliance.Protocol.Krpc;

namespace Appliance.Dht.Node;

/// <summary>Where the engine's outgoing datagrams go: the UDP socket, or a sink in benchmarks and tests.</summary>
public interface IDatagramSender
{
    void Send(ReadOnlySpan<byte> datagram, CompactPeer destination);
}
