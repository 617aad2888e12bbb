using System.Net;
using Appliance.Protocol.Metainfo;

namespace Appliance.Protocol.TrackerWire;

/// <summary>What a client tells a tracker in one announce (HTTP query or UDP packet). PeerId is 20 bytes.</summary>
public sealed record AnnounceRequest
{
    public const int PeerIdLength = 20;

    public required InfoHash InfoHash { get; init; }
    public required ReadOnlyMemory<byte> PeerId { get; init; }
    public required int Port { get; init; }
    public long Uploaded { get; init; }
    public long Downloaded { get; init; }
    public long Left { get; init; }
    public AnnounceEvent Event { get; init; }
    public uint Key { get; init; }

    /// <summary>Peers wanted; -1 lets the tracker choose.</summary>
    public int NumWant { get; init; } = -1;

    /// <summary>The tracker id echoed back from an earlier response (HTTP only).</summary>
    public string? TrackerId { get; init; }

    /// <summary>An address the client asks the tracker to use instead of the packet's source (optional).</summary>
    public IPAddress? IPAddress { get; init; }

    /// <summary>BEP 7 (HTTP only): more addresses of ours, sent as <c>ipv4=</c> or <c>ipv6=</c> by family.</summary>
    public IReadOnlyList<IPAddress> AlsoAt { get; init; } = [];

    /// <summary>HTTP: whether the client asked for compact peers (compact=1, or absent which we treat as compact).</summary>
    public bool Compact { get; init; } = true;

    public bool NoPeerId { get; init; }
}
