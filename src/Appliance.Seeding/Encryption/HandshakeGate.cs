using System.Net;
using Appliance.Networking.Tcp;

namespace Appliance.Seeding.Encryption;

/// <summary>
/// Admission for encrypted handshakes, whose two 768-bit exponentiations cost far more than a plaintext handshake:
/// a cap on handshakes in progress, and a token bucket per address (an IPv6 /64 counts as one), so a flood of fake
/// handshakes from a few sources cannot take the CPU that serves real peers. Thread-safe.
/// </summary>
public sealed class HandshakeGate
{
    /// <summary>Addresses remembered at most; beyond this, addresses whose bucket has refilled are forgotten.</summary>
    private const int MaxTrackedAddresses = 16_384;

    private readonly int _maxConcurrent;
    private readonly double _perSecond;
    private readonly double _burst;
    private readonly TimeProvider _time;
    private readonly Dictionary<UInt128, Bucket> _buckets = [];
    private readonly Lock _gate = new();
    private int _inProgress;

    public HandshakeGate(int maxConcurrent, double perSecondPerAddress, double burstPerAddress, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrent, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(perSecondPerAddress, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(burstPerAddress, 1);
        _maxConcurrent = maxConcurrent;
        _perSecond = perSecondPerAddress;
        _burst = burstPerAddress;
        _time = time;
    }

    public int InProgress => Volatile.Read(ref _inProgress);

    /// <summary>True when a handshake from <paramref name="address"/> may start; the caller must then call <see cref="Exit"/> once.</summary>
    public bool TryEnter(IPAddress address)
    {
        var key = ConnectionLimiter.AddressKey(address);
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_inProgress >= _maxConcurrent) return false;
            if (!_buckets.TryGetValue(key, out var bucket))
            {
                if (_buckets.Count >= MaxTrackedAddresses) Forget(now);
                bucket = new Bucket(_burst, now);
            }
            double tokens = Math.Min(_burst, bucket.Tokens + _time.GetElapsedTime(bucket.Stamp, now).TotalSeconds * _perSecond);
            if (tokens < 1)
            {
                _buckets[key] = new Bucket(tokens, now);
                return false;
            }
            _buckets[key] = new Bucket(tokens - 1, now);
            _inProgress++;
            return true;
        }
    }

    public void Exit()
    {
        lock (_gate) _inProgress--;
    }

    private void Forget(long now)
    {
        foreach (var (key, bucket) in _buckets)
        {
            if (bucket.Tokens + _time.GetElapsedTime(bucket.Stamp, now).TotalSeconds * _perSecond >= _burst) _buckets.Remove(key);
        }
        // Every bucket still draining: an address flood; forgetting them all is the bounded choice.
        if (_buckets.Count >= MaxTrackedAddresses) _buckets.Clear();
    }

    private readonly record struct Bucket(double Tokens, long Stamp);
}
