using System.Buffers.Binary;
using System.Security.Cryptography;
using Appliance.Protocol.Randomness;

namespace Appliance.Dht.Tokens;

/// <summary>
/// Write tokens for get_peers/announce_peer (BEP 5): a hash of the requester's IP and a secret that rotates
/// every 5 minutes; the previous secret is still accepted, so a token lives 5 to 10 minutes.
/// </summary>
public sealed class TokenIssuer
{
    public const int TokenLength = 8;
    public static readonly TimeSpan RotateEvery = TimeSpan.FromMinutes(5);

    private readonly TimeProvider _time;
    private readonly byte[] _current = new byte[16];
    private readonly byte[] _previous = new byte[16];
    private DateTimeOffset _rotatedAt;

    public TokenIssuer(TimeProvider time)
    {
        _time = time;
        KernelRandom.Fill(_current);
        KernelRandom.Fill(_previous);
        _rotatedAt = time.GetUtcNow();
    }

    public void Issue(UInt128 address, Span<byte> token)
    {
        RotateIfDue();
        Compute(_current, address, token);
    }

    public bool IsValid(UInt128 address, ReadOnlySpan<byte> token)
    {
        if (token.Length != TokenLength) return false;
        RotateIfDue();
        Span<byte> expected = stackalloc byte[TokenLength];
        Compute(_current, address, expected);
        if (CryptographicOperations.FixedTimeEquals(expected, token)) return true;
        Compute(_previous, address, expected);
        return CryptographicOperations.FixedTimeEquals(expected, token);
    }

    private void RotateIfDue()
    {
        var now = _time.GetUtcNow();
        if (now - _rotatedAt < RotateEvery) return;
        if (now - _rotatedAt >= RotateEvery * 2)
        {
            // Both secrets are older than 10 minutes: no old token may survive.
            KernelRandom.Fill(_previous);
        }
        else
        {
            _current.CopyTo(_previous, 0);
        }
        KernelRandom.Fill(_current);
        _rotatedAt = now;
    }

    private static void Compute(byte[] secret, UInt128 address, Span<byte> token)
    {
        Span<byte> input = stackalloc byte[32];
        secret.CopyTo(input);
        BinaryPrimitives.WriteUInt128BigEndian(input[16..], address);
        Span<byte> digest = stackalloc byte[SHA1.HashSizeInBytes];
        SHA1.HashData(input, digest);
        digest[..TokenLength].CopyTo(token);
    }
}
