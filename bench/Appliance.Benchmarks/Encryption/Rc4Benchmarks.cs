using Appliance.Protocol.Encryption;
using BenchmarkDotNet.Attributes;

namespace Appliance.Benchmarks.Encryption;

/// <summary>What an RC4 peer adds per block on top of the pread copy: encrypting one 16 KiB block in place. Budget: 0 B/op.</summary>
[MemoryDiagnoser]
public class Rc4Benchmarks
{
    private readonly byte[] _block = new byte[16 * 1024];
    private readonly Rc4 _cipher = new("benchmark key 20 byt"u8);

    [Benchmark]
    public byte EncryptBlock()
    {
        _cipher.Apply(_block);
        return _block[0];
    }
}

/// <summary>
/// The CPU an encrypted handshake costs the seeder (key pair, shared secret, hashes): the inverse is how many handshakes
/// per second one core can absorb. Allocates nothing (Montgomery exponentiation on the stack); see the budget file for
/// why its budget is a few bytes.
/// </summary>
[MemoryDiagnoser]
public class MseKeyExchangeBenchmarks
{
    private readonly byte[] _privateKey = new byte[MseKeyExchange.PrivateKeyLength];
    private readonly byte[] _otherPublic = new byte[MseKeyExchange.KeyLength];
    private readonly byte[] _ours = new byte[MseKeyExchange.KeyLength];
    private readonly byte[] _secret = new byte[MseKeyExchange.KeyLength];

    [GlobalSetup]
    public void Setup()
    {
        var other = new byte[MseKeyExchange.PrivateKeyLength];
        MseKeyExchange.CreatePrivateKey(other);
        MseKeyExchange.PublicKey(other, _otherPublic);
    }

    [Benchmark]
    public byte SeedSideKeyExchange()
    {
        MseKeyExchange.CreatePrivateKey(_privateKey);
        MseKeyExchange.PublicKey(_privateKey, _ours);
        MseKeyExchange.TrySharedSecret(_privateKey, _otherPublic, _secret);
        return _secret[0];
    }
}
