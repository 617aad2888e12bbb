namespace Appliance.LoadGen;

/// <summary>State every connection of a run shares: progress counters and whether latencies are being recorded.</summary>
public sealed class LoadRun
{
    private int _handshaken;
    private int _unchoked;
    private volatile bool _measuring;

    public bool Measuring
    {
        get => _measuring;
        set => _measuring = value;
    }

    public int Handshaken => Volatile.Read(ref _handshaken);
    public int Unchoked => Volatile.Read(ref _unchoked);

    public void OnHandshaken() => Interlocked.Increment(ref _handshaken);
    public void OnUnchoked() => Interlocked.Increment(ref _unchoked);
}
