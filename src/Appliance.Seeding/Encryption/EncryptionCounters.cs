using Appliance.Metrics.Counters;

namespace Appliance.Seeding.Encryption;

/// <summary>MSE/PE outcomes, one slot each in <see cref="EncryptionCounters"/>.</summary>
public enum EncryptionCounter
{
    /// <summary>Encrypted handshakes that selected RC4 for the stream.</summary>
    HandshakesRc4,

    /// <summary>Encrypted handshakes that selected plaintext for the stream (obfuscated handshake only).</summary>
    HandshakesPlaintext,

    /// <summary>Encrypted handshakes dropped as malformed (bad key, no req1, unknown SKEY, bad VC, oversized fields).</summary>
    HandshakesFailed,

    /// <summary>Encrypted handshakes refused by the concurrency or per-address rate cap.</summary>
    HandshakesThrottled,

    /// <summary>Plaintext handshakes refused under --encryption require.</summary>
    PlaintextRefused,
}

/// <summary>MSE/PE outcomes, exported by <see cref="SeedingMetrics"/>. No lock, no allocation.</summary>
public sealed class EncryptionCounters : CounterSet<EncryptionCounter>
{
    internal void Completed(bool rc4) => Increment(rc4 ? EncryptionCounter.HandshakesRc4 : EncryptionCounter.HandshakesPlaintext);
    internal void Failed() => Increment(EncryptionCounter.HandshakesFailed);
    internal void RefusedPlaintext() => Increment(EncryptionCounter.PlaintextRefused);
    internal void Throttled() => Increment(EncryptionCounter.HandshakesThrottled);
}
