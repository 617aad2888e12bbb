using System.Diagnostics;
using Appliance.Metrics.Counters;

namespace Appliance.Networking.Utp;

/// <summary>What the uTP layer counts, one slot each in <see cref="UtpCounters"/>; <see cref="UtpMetrics"/> exports them.</summary>
public enum UtpCounter
{
    ConnectionsAccepted,

    /// <summary>SYNs answered with a reset: connection limits, or the half-open cap (<see cref="HalfOpenRefused"/>, counted here too).</summary>
    ConnectionsRefused,
    HalfOpenRefused,

    /// <summary>Level: uTP connections open now (half-open ones included).</summary>
    Connections,
    PacketsReceived,
    PacketsSent,
    PayloadBytesSent,

    /// <summary>Packets sent again: after a timeout, three duplicate acks or a selective ACK past them (<see cref="FastRetransmits"/>, counted here too).</summary>
    Retransmits,
    FastRetransmits,
    Timeouts,
    ResetsSent,
    ResetsReceived,

    /// <summary>Packets ignored: malformed, for no connection we know (answered with a reset), or acknowledging data never sent.</summary>
    Dropped,
    Duplicates,
}

/// <summary>What the uTP layer did. Written with interlocked adds, read lock-free.</summary>
public sealed class UtpCounters : CounterSet<UtpCounter>
{
    /// <summary>Round-trip times measured from acknowledged packets sent once.</summary>
    public LatencyHistogram Rtt { get; } = new();

    internal void Accepted() => Increment(UtpCounter.ConnectionsAccepted);

    internal void Refused(bool halfOpen)
    {
        Increment(UtpCounter.ConnectionsRefused);
        if (halfOpen) Increment(UtpCounter.HalfOpenRefused);
    }

    internal void Opened() => Increment(UtpCounter.Connections);
    internal void Closed() => Decrement(UtpCounter.Connections);
    internal void Received() => Increment(UtpCounter.PacketsReceived);

    internal void Sent(int payloadBytes)
    {
        Increment(UtpCounter.PacketsSent);
        if (payloadBytes > 0) Add(UtpCounter.PayloadBytesSent, payloadBytes);
    }

    internal void RttMeasured(int micros) => Rtt.RecordTicks((long)(micros * (Stopwatch.Frequency / 1_000_000.0)));
    internal void Retransmitted() => Increment(UtpCounter.Retransmits);
    internal void FastRetransmit() => Increment(UtpCounter.FastRetransmits);
    internal void Timeout() => Increment(UtpCounter.Timeouts);
    internal void ResetSent() => Increment(UtpCounter.ResetsSent);
    internal void ResetReceived() => Increment(UtpCounter.ResetsReceived);
    internal void Drop() => Increment(UtpCounter.Dropped);
    internal void Duplicate() => Increment(UtpCounter.Duplicates);
}
