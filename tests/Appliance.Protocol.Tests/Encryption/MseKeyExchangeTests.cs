using System.Numerics;
using Appliance.Protocol.Encryption;
using Appliance.TestKit;

namespace Appliance.Protocol.Tests.Encryption;

/// <summary>The stack-only Montgomery exponentiation against <see cref="BigInteger.ModPow"/>, the obvious reference.</summary>
public sealed class MseKeyExchangeTests
{
    // The MSE prime: the 768-bit MODP group of RFC 2409 (Oakley group 1), as BEP 8 gives it.
    private static readonly BigInteger P = new(Convert.FromHexString(
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563"),
        isUnsigned: true, isBigEndian: true);

    private static BigInteger Read(ReadOnlySpan<byte> bigEndian) => new(bigEndian, isUnsigned: true, isBigEndian: true);

    private static byte[] Write(BigInteger value)
    {
        var bytes = new byte[MseKeyExchange.KeyLength];
        value.TryWriteBytes(bytes.AsSpan(MseKeyExchange.KeyLength - value.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);
        return bytes;
    }

    [Fact]
    public void Public_keys_and_shared_secrets_equal_modpow_for_random_keys()
    {
        var random = new Random(8);
        var x = new byte[MseKeyExchange.PrivateKeyLength];
        var publicKey = new byte[MseKeyExchange.KeyLength];
        var secret = new byte[MseKeyExchange.KeyLength];
        for (int i = 0; i < 200; i++)
        {
            random.NextBytes(x);
            MseKeyExchange.PublicKey(x, publicKey);
            Assert.Equal(BigInteger.ModPow(2, Read(x), P), Read(publicKey));

            var yBytes = new byte[MseKeyExchange.KeyLength];
            random.NextBytes(yBytes);
            var y = Read(yBytes) % (P - 3) + 2;
            Assert.True(MseKeyExchange.TrySharedSecret(x, Write(y), secret));
            Assert.Equal(BigInteger.ModPow(y, Read(x), P), Read(secret));
        }
    }

    [Theory]
    [InlineData("00")]
    [InlineData("01")]
    [InlineData("80")]
    [InlineData("FF")]
    public void Extreme_private_keys_equal_modpow(string fill)
    {
        var x = Enumerable.Repeat(Convert.FromHexString(fill)[0], MseKeyExchange.PrivateKeyLength).ToArray();
        var y = P - 2;
        var secret = new byte[MseKeyExchange.KeyLength];
        Assert.True(MseKeyExchange.TrySharedSecret(x, Write(y), secret));
        Assert.Equal(BigInteger.ModPow(y, Read(x), P), Read(secret));
        var publicKey = new byte[MseKeyExchange.KeyLength];
        MseKeyExchange.PublicKey(x, publicKey);
        Assert.Equal(BigInteger.ModPow(2, Read(x), P), Read(publicKey));
    }

    [Fact]
    public void Public_keys_that_force_a_known_secret_are_refused()
    {
        var x = new byte[MseKeyExchange.PrivateKeyLength];
        MseKeyExchange.CreatePrivateKey(x);
        var secret = new byte[MseKeyExchange.KeyLength];
        var all = Enumerable.Repeat((byte)0xFF, MseKeyExchange.KeyLength).ToArray();
        foreach (var bad in new[] { Write(0), Write(1), Write(P - 1), Write(P), Write(P + 1), all })
            Assert.False(MseKeyExchange.TrySharedSecret(x, bad, secret));
        foreach (var good in new[] { Write(2), Write(P - 2), Write(BigInteger.One << 64), Write(P - (BigInteger.One << 64)) })
            Assert.True(MseKeyExchange.TrySharedSecret(x, good, secret));
    }

    [Fact]
    public void Key_exchange_allocates_nothing()
    {
        var x = new byte[MseKeyExchange.PrivateKeyLength];
        var publicKey = new byte[MseKeyExchange.KeyLength];
        var secret = new byte[MseKeyExchange.KeyLength];
        MseKeyExchange.CreatePrivateKey(x);
        MseKeyExchange.PublicKey(x, publicKey);
        MseKeyExchange.TrySharedSecret(x, publicKey, secret);
        Assert.Equal(0, ThreadAllocations.Quietest(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                MseKeyExchange.CreatePrivateKey(x);
                MseKeyExchange.PublicKey(x, publicKey);
                MseKeyExchange.TrySharedSecret(x, publicKey, secret);
            }
        }));
    }
}
