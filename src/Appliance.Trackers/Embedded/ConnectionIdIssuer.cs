using Appliance.Protocol.Randomness;

namespace Appliance.Trackers.Embedded;

/// <summary>
/// BEP 15 connection ids without a table: id = SipHash(secret, client address and port). The secret rotates every
/// minute and the previous one is still accepted, so an id lives one to two minutes and a flood of connects costs no memory.
/// </summary>
public sealed class ConnectionIdIssuer
{
    public static readonly TimeSpan RotationPeriod = TimeSpan.FromMinutes(1);

    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private KeySet _keys;

    public ConnectionIdIssuer(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _keys = new KeySet(Key.New(), Key.New(), _time.GetTimestamp());
    }

    /// <summary>The id for a client; <paramref name="clientAddress"/> is the raw address bytes followed by the port.</summary>
    public long Issue(ReadOnlySpan<byte> clientAddress) => Keys().Current.Hash(clientAddress);

    public bool IsValid(long connectionId, ReadOnlySpan<byte> clientAddress)
    {
        var keys = Keys();
        return connectionId == keys.Current.Hash(clientAddress) || connectionId == keys.Previous.Hash(clientAddress);
    }

    private KeySet Keys()
    {
        var keys = Volatile.Read(ref _keys);
        long now = _time.GetTimestamp();
        if (_time.GetElapsedTime(keys.RotatedAt, now) < RotationPeriod) return keys;
        lock (_gate)
        {
            keys = _keys;
            var elapsed = _time.GetElapsedTime(keys.RotatedAt, now);
            if (elapsed >= RotationPeriod)
            {
                // After two idle periods the current key is too old to keep as the previous one.
                keys = new KeySet(Key.New(), elapsed >= 2 * RotationPeriod ? Key.New() : keys.Current, now);
                Volatile.Write(ref _keys, keys);
            }
            return keys;
        }
    }

    private sealed record KeySet(Key Current, Key Previous, long RotatedAt);

    private sealed record Key(ulong K0, ulong K1)
    {
        public long Hash(ReadOnlySpan<byte> data) => (long)SipHash.Compute(K0, K1, data);

        public static Key New()
        {
            Span<byte> key = stackalloc byte[16];
            KernelRandom.Fill(key);
            return new Key(BitConverter.ToUInt64(key), BitConverter.ToUInt64(key[8..]));
        }
    }
}
