namespace Appliance.Trackers.Embedded;

/// <summary>
/// The time of one store operation, and the 15-bit wrapping tick a peer's last announce is kept as, so an IPv4 peer
/// fits in 8 bytes. A tick is one second, or longer when the peer timeout exceeds 4,096 seconds, so that every age a
/// swarm can hold (up to two and a half timeouts, see <see cref="Swarm.Sweep"/>) stays well inside the 32,767 ticks
/// before a tick repeats.
/// </summary>
internal readonly struct PeerClock
{
    /// <summary>Ticks run 0..32766; 32767 marks a peer that never expires (this appliance).</summary>
    public const ushort Pinned = 0x7FFF;

    private const int Range = 0x7FFF, MaxTimeoutTicks = 4096;

    /// <summary>Seconds since the store was made.</summary>
    public readonly uint Now;

    public readonly uint TimeoutSeconds;
    public readonly ushort Tick;
    private readonly ushort _timeoutTicks;

    public PeerClock(uint now, uint timeoutSeconds)
    {
        Now = now;
        TimeoutSeconds = timeoutSeconds;
        int shift = ShiftFor(timeoutSeconds);
        Tick = (ushort)((now >> shift) % Range);
        // Rounded up: a coarse tick may keep a peer a little longer than the timeout, never drop it sooner.
        _timeoutTicks = (ushort)((timeoutSeconds + (1u << shift) - 1) >> shift);
    }

    public static int ShiftFor(uint timeoutSeconds)
    {
        int shift = 0;
        while (timeoutSeconds > (ulong)MaxTimeoutTicks << shift) shift++;
        return shift;
    }

    public bool IsExpired(int seen)
    {
        if (seen == Pinned) return false;
        // An age past half the range is a tick read a moment later than this clock's, by another thread: not expired.
        int age = (Tick - seen + Range) % Range;
        return age > _timeoutTicks && age < Range / 2;
    }
}
