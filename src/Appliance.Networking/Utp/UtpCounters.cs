using System.Diagnostics;
using Appliance.Metrics.Counters;

namespace Appliance.Networking.Utp;

/// <summary>What the uTP layer did, as plain counters the metrics exporter reads. Written with interlocked adds, read lock-free.</summary>
public sealed class UtpCounters
{
    private long _connectionsAccepted;
    private long _connectionsRefused;
    private long _halfOpenRefused;
    private long _connections;
    private long _packetsReceived;
    private long _packetsSent;
    private long _payloadBytesSent;
    private long _retransmits;
    private long _fastRetransmits;
    private long _timeouts;
    private long _resetsSent;
    private long _resetsReceived;
    private long _dropped;
    private long _duplicates;

    /// <summary>Round-trip times measured from acknowledged packets sent once.</summary>
    public LatencyHistogram Rtt { get; } = new();

    public long ConnectionsAccepted => Volatile.Read(ref _connectionsAccepted);

    /// <summary>SYNs answered with a reset: connection limits, or the half-open cap (<see cref="HalfOpenRefused"/>).</summary>
    public long ConnectionsRefused => Volatile.Read(ref _connectionsRefused);
    public long HalfOpenRefused => Volatile.Read(ref _halfOpenRefused);

    /// <summary>uTP connections open now (half-open ones included).</summary>
    public long Connections => Volatile.Read(ref _connections);
    public long PacketsReceived => Volatile.Read(ref _packetsReceived);
    public long PacketsSent => Volatile.Read(ref _packetsSent);
    public long PayloadBytesSent => Volatile.Read(ref _payloadBytesSent);

    /// <summary>Packets sent again: after a timeout, three duplicate acks or a selective ACK past them.</summary>
    public long Retransmits => Volatile.Read(ref _retransmits);
    public long FastRetransmits => Volatile.Read(ref _fastRetransmits);
    public long Timeouts => Volatile.Read(ref _timeouts);
    public long ResetsSent => Volatile.Read(ref _resetsSent);
    public long ResetsReceived => Volatile.Read(ref _resetsReceived);

    /// <summary>Packets ignored: malformed, for no connection we know (answered with a reset), or acknowledging data never sent.</summary>
    public long Dropped => Volatile.Read(ref _dropped);
    public long Duplicates => Volatile.Read(ref _duplicates);

    internal void Accepted() => Interlocked.Increment(ref _connectionsAccepted);
    internal void Refused(bool halfOpen)
    {
        Interlocked.Increment(ref _connectionsRefused);
        if (halfOpen) Interlocked.Increment(ref _halfOpenRefused);
    }
    internal void Opened() => Interlocked.Increment(ref _connections);
    internal void Closed() => Interlocked.Decrement(ref _connections);
    internal void Received() => Interlocked.Increment(ref _packetsReceived);
    internal void Sent(int payloadBytes)
    {
        Interlocked.Increment(ref _packetsSent);
        if (payloadBytes > 0) Interlocked.Add(ref _payloadBytesSent, payloadBytes);
    }
    internal void RttMeasured(int micros) => Rtt.RecordTicks((long)(micros * (Stopwatch.Frequency / 1_000_000.0)));
    internal void Retransmitted() => Interlocked.Increment(ref _retransmits);
    internal void FastRetransmit() => Interlocked.Increment(ref _fastRetransmits);
    internal void Timeout() => Interlocked.Increment(ref _timeouts);
    internal void ResetSent() => Interlocked.Increment(ref _resetsSent);
    internal void ResetReceived() => Interlocked.Increment(ref _resetsReceived);
    internal void Drop() => Interlocked.Increment(ref _dropped);
    internal void Duplicate() => Interlocked.Increment(ref _duplicates);
}
