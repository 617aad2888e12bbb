using System.Net;
using Appliance.Dht.Peers;
using Appliance.Protocol.Identity;
using Appliance.Protocol.Krpc;

namespace Appliance.Dht.Node;

public sealed record DhtNodeOptions
{
    /// <summary>UDP address to bind (IPv4).</summary>
    public IPEndPoint EndPoint { get; init; } = new(IPAddress.Any, 6881);

    /// <summary>Our id; random (or BEP 42 once our external address is known) when null.</summary>
    public NodeId? Id { get; init; }

    /// <summary>Nodes to contact at start (already resolved); empty means wait to be contacted.</summary>
    public IReadOnlyList<CompactPeer> Bootstrap { get; init; } = [];

    /// <summary>Routing table file, saved on stop and every 10 minutes, reloaded at start; null = no persistence.</summary>
    public string? StateFile { get; init; }

    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>A lookup ends with what it has after this long.</summary>
    public TimeSpan LookupTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>BEP 5's alpha: queries in flight per lookup.</summary>
    public int Alpha { get; init; } = 3;

    /// <summary>Per-source token bucket for incoming packets (libtorrent's limit is about 5/s).</summary>
    public double PacketsPerSecondPerSource { get; init; } = 20;

    public double BurstPerSource { get; init; } = 60;

    public int MaxTrackedSources { get; init; } = 20_000;

    /// <summary>A response is at most this many times the size of its query (no amplification)...</summary>
    public int AmplificationFactor { get; init; } = 4;

    /// <summary>...and never more than this many bytes (fits an IPv6 minimum MTU).</summary>
    public int MaxResponseBytes { get; init; } = 1200;

    public int MaxPendingQueries { get; init; } = 4096;

    public PeerStoreLimits PeerLimits { get; init; } = new();

    /// <summary>Switch to a BEP 42 id once enough responders agree on our external address.</summary>
    public bool UseSecureId { get; init; } = true;

    /// <summary>Client version sent in <c>v</c>: two letters and two version bytes.</summary>
    public ReadOnlyMemory<byte> Version { get; init; } = ClientIdentity.DhtVersion.ToArray();
}
