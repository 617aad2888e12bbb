using System.Numerics;
using System.Security.Cryptography;

namespace Appliance.Protocol.Encryption;

/// <summary>
/// The Diffie-Hellman half of MSE/PE: the spec's 768-bit prime, generator 2, 160-bit private keys, public keys and the
/// shared secret S as 96 big-endian bytes. Also the SHA-1 derivations the handshake uses (req1, req2, req3, keyA, keyB).
/// </summary>
public static class MseKeyExchange
{
    public const int KeyLength = 96;
    public const int PrivateKeyLength = 20;
    public const int HashLength = 20;

    private static readonly BigInteger Prime = new(Convert.FromHexString(
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563"),
        isUnsigned: true, isBigEndian: true);

    private static readonly BigInteger Generator = 2;

    public static void CreatePrivateKey(Span<byte> privateKey)
    {
        if (privateKey.Length != PrivateKeyLength) throw new ArgumentException($"a private key is {PrivateKeyLength} bytes", nameof(privateKey));
        RandomNumberGenerator.Fill(privateKey);
    }

    /// <summary>G^X mod P, written as <see cref="KeyLength"/> big-endian bytes.</summary>
    public static void PublicKey(ReadOnlySpan<byte> privateKey, Span<byte> publicKey) =>
        Write(BigInteger.ModPow(Generator, Read(privateKey), Prime), publicKey);

    /// <summary>
    /// S = Y^X mod P. False for a public key outside 2..P-2: such a key (0, 1, P-1 or beyond P) forces a known secret,
    /// so the handshake would protect nothing.
    /// </summary>
    public static bool TrySharedSecret(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> otherPublicKey, Span<byte> secret)
    {
        var y = Read(otherPublicKey);
        if (y <= BigInteger.One || y >= Prime - BigInteger.One) return false;
        Write(BigInteger.ModPow(y, Read(privateKey), Prime), secret);
        return true;
    }

    /// <summary>HASH(label, a, b) = SHA-1 over the concatenation (b may be empty).</summary>
    public static void Hash(ReadOnlySpan<byte> label, ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> destination)
    {
        Span<byte> input = stackalloc byte[label.Length + a.Length + b.Length];
        label.CopyTo(input);
        a.CopyTo(input[label.Length..]);
        b.CopyTo(input[(label.Length + a.Length)..]);
        SHA1.HashData(input, destination);
    }

    /// <summary>HASH('req2', SKEY): what an initiator's obfuscated info-hash hides; seeders precompute it per torrent.</summary>
    public static void Req2(ReadOnlySpan<byte> infoHash, Span<byte> destination) => Hash("req2"u8, infoHash, default, destination);

    private static BigInteger Read(ReadOnlySpan<byte> bigEndian) => new(bigEndian, isUnsigned: true, isBigEndian: true);

    private static void Write(BigInteger value, Span<byte> destination)
    {
        if (destination.Length != KeyLength) throw new ArgumentException($"keys are {KeyLength} bytes", nameof(destination));
        int length = value.GetByteCount(isUnsigned: true);
        destination[..(KeyLength - length)].Clear();
        value.TryWriteBytes(destination[(KeyLength - length)..], out _, isUnsigned: true, isBigEndian: true);
    }
}
