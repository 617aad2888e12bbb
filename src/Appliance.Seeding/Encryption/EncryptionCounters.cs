namespace Appliance.Seeding.Encryption;

/// <summary>MSE/PE outcomes, read by the metrics exporter. No lock, no allocation.</summary>
public sealed class EncryptionCounters
{
    private long _rc4;
    private long _plaintextAfterHandshake;
    private long _failed;
    private long _plaintextRefused;
    private long _throttled;

    /// <summary>Encrypted handshakes that selected RC4 for the stream.</summary>
    public long HandshakesRc4 => Interlocked.Read(ref _rc4);

    /// <summary>Encrypted handshakes that selected plaintext for the stream (obfuscated handshake only).</summary>
    public long HandshakesPlaintext => Interlocked.Read(ref _plaintextAfterHandshake);

    /// <summary>Encrypted handshakes dropped as malformed (bad key, no req1, unknown SKEY, bad VC, oversized fields).</summary>
    public long HandshakesFailed => Interlocked.Read(ref _failed);

    /// <summary>Plaintext handshakes refused under --encryption require.</summary>
    public long PlaintextRefused => Interlocked.Read(ref _plaintextRefused);

    /// <summary>Encrypted handshakes refused by the concurrency or per-address rate cap.</summary>
    public long HandshakesThrottled => Interlocked.Read(ref _throttled);

    internal void Completed(bool rc4)
    {
        if (rc4) Interlocked.Increment(ref _rc4);
        else Interlocked.Increment(ref _plaintextAfterHandshake);
    }

    internal void Failed() => Interlocked.Increment(ref _failed);
    internal void RefusedPlaintext() => Interlocked.Increment(ref _plaintextRefused);
    internal void Throttled() => Interlocked.Increment(ref _throttled);
}
