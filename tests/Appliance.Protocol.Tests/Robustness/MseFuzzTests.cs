using Appliance.Protocol.Encryption;
using Appliance.Protocol.Metainfo;
using Appliance.TestKit;

namespace Appliance.Protocol.Tests.Robustness;

/// <summary>The MSE/PE responder under mutated and truncated handshakes: it reports Failed or waits, never throws or overruns.</summary>
public sealed class MseFuzzTests
{
    private static readonly InfoHash Seeded = InfoHash.Compute("seeded"u8);

    private sealed class Lookup : IObfuscatedHashLookup
    {
        private readonly InfoHash _req2;

        public Lookup()
        {
            var req2 = new byte[20];
            MseKeyExchange.Req2(Seeded.ToArray(), req2);
            _req2 = new InfoHash(req2);
        }

        public bool TryFindByReq2(ReadOnlySpan<byte> req2, out InfoHash infoHash)
        {
            infoHash = Seeded;
            return new InfoHash(req2) == _req2;
        }
    }

    [Fact]
    public void Mutated_step3_fails_or_waits_and_never_throws()
    {
        var random = new Random(12);
        int failed = 0;
        for (int i = 0; i < 300; i++)
        {
            var responder = new MseResponder(new Lookup(), CryptoMethods.Plaintext | CryptoMethods.Rc4, preferRc4: true);
            var initiator = new MseInitiator();
            Assert.Equal(MseStatus.NeedMoreData, responder.Receive(initiator.Step1(random.Next(0, 40)), out _));
            var step3 = initiator.Step3(responder.Reply[..MseKeyExchange.KeyLength], Seeded, CryptoMethods.Rc4, new byte[68], random.Next(0, 20));
            var mutant = Mutations.Mutate(step3, random);
            var status = responder.Receive(mutant, out int consumed);
            Assert.InRange(consumed, 0, mutant.Length);
            if (status != MseStatus.Failed) continue;
            Assert.NotNull(responder.Failure);
            failed++;
        }
        // Mutants that only touch PadC or the initial payload may complete, cut ones wait; the rest break a hash, VC or a length.
        Assert.True(failed > 50, $"only {failed} of 300 mutants were refused");
    }

    [Fact]
    public void Every_truncation_waits_for_more()
    {
        var responder0 = new MseResponder(new Lookup(), CryptoMethods.Rc4, preferRc4: true);
        var initiator0 = new MseInitiator();
        var step1 = initiator0.Step1(7);
        foreach (var prefix in Mutations.Truncations(step1))
        {
            var responder = new MseResponder(new Lookup(), CryptoMethods.Rc4, preferRc4: true);
            Assert.Equal(MseStatus.NeedMoreData, responder.Receive(prefix, out int consumed));
            Assert.Equal(prefix.Length, consumed);
        }
        responder0.Receive(step1, out _);
        var step3 = initiator0.Step3(responder0.Reply[..MseKeyExchange.KeyLength], Seeded, CryptoMethods.Rc4, new byte[68]);
        // Fed byte by byte, no prefix of step 3 completes early or fails.
        for (int i = 0; i < step3.Length - 1; i++) Assert.Equal(MseStatus.NeedMoreData, responder0.Receive(step3.AsSpan(i, 1), out _));
        Assert.Equal(MseStatus.Done, responder0.Receive(step3.AsSpan(step3.Length - 1), out _));
    }
}
