using System.Security.Cryptography;
using Appliance.Protocol.Randomness;

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

    public static void CreatePrivateKey(Span<byte> privateKey)
    {
        if (privateKey.Length != PrivateKeyLength) throw new ArgumentException($"a private key is {PrivateKeyLength} bytes", nameof(privateKey));
        KernelRandom.Fill(privateKey);
    }

    /// <summary>G^X mod P, written as <see cref="KeyLength"/> big-endian bytes.</summary>
    public static void PublicKey(ReadOnlySpan<byte> privateKey, Span<byte> publicKey)
    {
        CheckLengths(privateKey, publicKey);
        Span<ulong> generator = stackalloc ulong[MsePrimeField.Limbs];
        generator.Clear();
        generator[0] = 2;
        Span<ulong> result = stackalloc ulong[MsePrimeField.Limbs];
        MsePrimeField.Power(generator, privateKey, result);
        MsePrimeField.ToBigEndian(result, publicKey);
    }

    /// <summary>
    /// S = Y^X mod P. False for a public key outside 2..P-2: such a key (0, 1, P-1 or beyond P) forces a known secret,
    /// so the handshake would protect nothing.
    /// </summary>
    public static bool TrySharedSecret(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> otherPublicKey, Span<byte> secret)
    {
        CheckLengths(privateKey, secret);
        if (otherPublicKey.Length != KeyLength) throw new ArgumentException($"keys are {KeyLength} bytes", nameof(otherPublicKey));
        Span<ulong> y = stackalloc ulong[MsePrimeField.Limbs];
        MsePrimeField.FromBigEndian(otherPublicKey, y);
        if (!MsePrimeField.IsUsablePublicKey(y)) return false;
        Span<ulong> result = stackalloc ulong[MsePrimeField.Limbs];
        MsePrimeField.Power(y, privateKey, result);
        MsePrimeField.ToBigEndian(result, secret);
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

    private static void CheckLengths(ReadOnlySpan<byte> privateKey, Span<byte> key)
    {
        if (privateKey.Length != PrivateKeyLength) throw new ArgumentException($"a private key is {PrivateKeyLength} bytes", nameof(privateKey));
        if (key.Length != KeyLength) throw new ArgumentException($"keys are {KeyLength} bytes", nameof(key));
    }
}
