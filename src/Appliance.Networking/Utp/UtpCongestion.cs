namespace Appliance.Networking.Utp;

/// <summary>
/// A uTP connection's congestion window and retransmission timer, as plain arithmetic over a caller's clock
/// (microseconds), so it is tested without sockets. LEDBAT (BEP 29): the window grows while the one-way queuing delay
/// the peer reports stays under the 100 ms target and shrinks above it, by at most <see cref="MaxGainPerRtt"/> bytes a
/// round trip; it halves on loss. A slow start doubles it each round trip until the first loss, the first time the delay
/// reaches the target, or the slow-start threshold. A timeout drops it to one packet and slow-starts it again up to half
/// the window it had (as TCP does, RFC 5681), rather than leaving one packet to grow by LEDBAT's few kilobytes a round
/// trip. RTT and RTO follow TCP (RFC 6298) with uTP's 500 ms floor.
/// </summary>
public sealed class UtpCongestion(int maxWindow)
{
    public const int TargetDelayMicros = 100_000;
    public const int MaxGainPerRtt = 3000;
    public const int MinRtoMicros = 500_000;
    public const int MaxRtoMicros = 60_000_000;
    public const int InitialRtoMicros = 1_000_000;

    // BEP 29: the base delay is the lowest reported over the last two minutes (two one-minute buckets).
    private const long DelayBucketMicros = 60_000_000;

    private uint _previousMinimum = uint.MaxValue;
    private uint _currentMinimum = uint.MaxValue;
    private long _bucketStart = long.MinValue;
    private bool _hasRtt;

    /// <summary>Bytes that may be in flight.</summary>
    public int Window { get; private set; } = 2 * UtpConnection.MaxPacketSize;

    public int MaxWindow { get; } = maxWindow;

    public bool SlowStart { get; private set; } = true;

    /// <summary>Where a slow start after a timeout ends: half the window the timeout found.</summary>
    public int SlowStartThreshold { get; private set; } = int.MaxValue;

    public int RttMicros { get; private set; }
    public int RttVarianceMicros { get; private set; }

    /// <summary>Current retransmission timeout, doubled by each consecutive timeout.</summary>
    public int RtoMicros { get; private set; } = InitialRtoMicros;

    /// <summary>The last queuing delay measured (reported delay minus the base delay).</summary>
    public int QueuingDelayMicros { get; private set; }

    public void OnRttSample(int sampleMicros)
    {
        sampleMicros = Math.Max(0, sampleMicros);
        if (!_hasRtt)
        {
            _hasRtt = true;
            RttMicros = sampleMicros;
            RttVarianceMicros = sampleMicros / 2;
        }
        else
        {
            RttVarianceMicros += (Math.Abs(RttMicros - sampleMicros) - RttVarianceMicros) / 4;
            RttMicros += (sampleMicros - RttMicros) / 8;
        }
        RtoMicros = Math.Clamp(RttMicros + 4 * RttVarianceMicros, MinRtoMicros, MaxRtoMicros);
    }

    /// <summary>
    /// New bytes were acknowledged. <paramref name="reportedDelayMicros"/> is the peer's timestamp difference (its receive
    /// clock minus our send clock: one-way delay plus an unknown clock offset, which the base delay cancels).
    /// </summary>
    public void OnAck(int ackedBytes, uint reportedDelayMicros, long nowMicros)
    {
        if (ackedBytes <= 0) return;
        if (reportedDelayMicros != 0) UpdateDelay(reportedDelayMicros, nowMicros);
        int offTarget = TargetDelayMicros - QueuingDelayMicros;
        if (SlowStart)
        {
            if (offTarget > 0 && Window < SlowStartThreshold)
            {
                Window = Math.Min(Math.Min(MaxWindow, SlowStartThreshold), Window + ackedBytes);
                return;
            }
            SlowStart = false;
        }
        // LEDBAT: gain scaled by how far below (or above) the target we are and by the share of the window acked.
        long gain = (long)MaxGainPerRtt * offTarget / TargetDelayMicros * ackedBytes / Math.Max(Window, 1);
        Window = (int)Math.Clamp(Window + gain, UtpConnection.MinPacketSize, MaxWindow);
    }

    /// <summary>A packet was lost (three duplicate acks or selectively acked past): halve, once per window.</summary>
    public void OnLoss()
    {
        SlowStart = false;
        Window = Math.Max(UtpConnection.MaxPacketSize, Window / 2);
    }

    /// <summary>The retransmission timer fired: one packet may be in flight, slow start to half the old window, and the timer backs off.</summary>
    public void OnTimeout()
    {
        SlowStartThreshold = Math.Max(2 * UtpConnection.MaxPacketSize, Window / 2);
        SlowStart = true;
        Window = UtpConnection.MaxPacketSize;
        RtoMicros = Math.Min(MaxRtoMicros, RtoMicros * 2);
    }

    private void UpdateDelay(uint reported, long nowMicros)
    {
        if (nowMicros - _bucketStart >= DelayBucketMicros)
        {
            _previousMinimum = _currentMinimum;
            _currentMinimum = uint.MaxValue;
            _bucketStart = nowMicros;
        }
        if (Before(reported, _currentMinimum)) _currentMinimum = reported;
        uint baseDelay = Before(_previousMinimum, _currentMinimum) ? _previousMinimum : _currentMinimum;
        // Reported delays wrap at 2^32 µs (71 minutes); distances are taken modulo that.
        QueuingDelayMicros = (int)Math.Min(int.MaxValue, reported - baseDelay);
    }

    // uint.MaxValue marks an empty bucket, which anything is before.
    private static bool Before(uint a, uint b) => b == uint.MaxValue ? a != uint.MaxValue : a != uint.MaxValue && (int)(a - b) < 0;
}
