using Appliance.Protocol.Encryption;
using Appliance.Protocol.Metainfo;

namespace Appliance.Fuzz.Encryption;

/// <summary>
/// The receiving side of the MSE/PE handshake (<see cref="MseResponder"/>, what the seeder runs) over what an initiator
/// sends. Both private keys are fixed, so every input shares one secret S, one HASH('req1', S) and one key A: the
/// fuzzer's bytes reach past the key exchange instead of stopping at a secret it cannot guess.
/// <para>
/// The first input byte chooses how the rest becomes the initiator's stream. Bits 0-1, the mode:
/// 0, the rest is the whole stream, Ya included (the public-key range check, then the search for req1 in whatever follows);
/// 1, <see cref="InitiatorPublicKey"/> then the rest as sent (PadA, req1, the obfuscated info-hash, the RC4 stream);
/// 2, Ya, PadA (length in the next byte, bytes from the input), the right req1 and obfuscated info-hash, then the rest
/// encrypted with key A here, so mutations land on the decrypted fields (VC, crypto_provide, len(PadC), PadC, len(IA), IA);
/// 3, like 2 with a zero PadA whose length is the next two bytes (past the 512-byte limit too).
/// Bits 2-6: the stream arrives in pieces of that many bytes (0: at once). Bit 7: the responder prefers RC4.
/// </para>
/// </summary>
public static class MseTarget
{
    public static readonly InfoHash Torrent = InfoHash.Compute("appliance-fuzz"u8);

    // Arbitrary fixed keys in 1..2^160: a known secret is the point here.
    private static readonly byte[] ResponderPrivateKey = [.. Enumerable.Range(1, MseKeyExchange.PrivateKeyLength).Select(i => (byte)i)];
    private static readonly byte[] InitiatorPrivateKey = [.. Enumerable.Range(0x21, MseKeyExchange.PrivateKeyLength).Select(i => (byte)i)];

    // Computed on first use: instrumented code must not run before SharpFuzz has set up the coverage map.
    private static Keys? _keys;

    private sealed class Keys
    {
        public readonly byte[] PublicKey = new byte[MseKeyExchange.KeyLength];
        public readonly byte[] Req1 = new byte[MseKeyExchange.HashLength];
        public readonly byte[] ObfuscatedHash = new byte[MseKeyExchange.HashLength];
        public readonly byte[] KeyA = new byte[MseKeyExchange.HashLength];
        public readonly byte[] Req2 = new byte[MseKeyExchange.HashLength];

        public Keys()
        {
            MseKeyExchange.PublicKey(InitiatorPrivateKey, PublicKey);
            var responderKey = new byte[MseKeyExchange.KeyLength];
            MseKeyExchange.PublicKey(ResponderPrivateKey, responderKey);
            var secret = new byte[MseKeyExchange.KeyLength];
            if (!MseKeyExchange.TrySharedSecret(InitiatorPrivateKey, responderKey, secret)) throw new InvalidOperationException("fixed keys out of range");
            MseKeyExchange.Hash("req1"u8, secret, default, Req1);
            MseKeyExchange.Req2(Torrent.ToArray(), Req2);
            MseKeyExchange.Hash("req3"u8, secret, default, ObfuscatedHash);
            for (int i = 0; i < ObfuscatedHash.Length; i++) ObfuscatedHash[i] ^= Req2[i];
            MseKeyExchange.Hash("keyA"u8, secret, Torrent.ToArray(), KeyA);
        }
    }

    private sealed class Lookup(byte[] req2) : IObfuscatedHashLookup
    {
        public bool TryFindByReq2(ReadOnlySpan<byte> candidate, out InfoHash infoHash)
        {
            infoHash = Torrent;
            return candidate.SequenceEqual(req2);
        }
    }

    /// <summary>Ya of the fixed initiator key (for building seeds).</summary>
    public static ReadOnlySpan<byte> InitiatorPublicKey => (_keys ??= new Keys()).PublicKey;

    public static void Fuzz(ReadOnlySpan<byte> data) => Run(data);

    /// <summary>Runs one input; the status the responder ended in. Throws when the responder broke its contract.</summary>
    public static MseStatus Run(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return MseStatus.NeedMoreData;
        var keys = _keys ??= new Keys();
        byte control = data[0];
        var stream = Stream(keys, control & 3, data[1..]);
        int chunk = (control >> 2) & 0x1F;
        if (chunk == 0) chunk = Math.Max(1, stream.Length);
        var responder = new MseResponder(new Lookup(keys.Req2), CryptoMethods.Plaintext | CryptoMethods.Rc4, preferRc4: (control & 0x80) != 0, ResponderPrivateKey);

        var status = MseStatus.NeedMoreData;
        for (int offset = 0; offset < stream.Length && status == MseStatus.NeedMoreData;)
        {
            var part = stream.AsSpan(offset, Math.Min(chunk, stream.Length - offset));
            status = responder.Receive(part, out int consumed);
            if (consumed < 0 || consumed > part.Length) throw new InvalidOperationException($"consumed {consumed} of {part.Length} bytes");
            if (status == MseStatus.NeedMoreData && consumed != part.Length) throw new InvalidOperationException("waits for more without taking every byte");
            offset += consumed;
            responder.ReplySent();
        }
        Check(responder, status);
        return status;
    }

    private static void Check(MseResponder responder, MseStatus status)
    {
        if (status == MseStatus.Failed)
        {
            if (responder.Failure is null) throw new InvalidOperationException("failed without a reason");
            if (responder.Receive([0], out _) != MseStatus.Failed) throw new InvalidOperationException("a failed handshake went on");
            return;
        }
        if (status != MseStatus.Done) return;
        if (responder.Selected is not (CryptoMethods.Rc4 or CryptoMethods.Plaintext)) throw new InvalidOperationException($"selected {responder.Selected}");
        if ((responder.Decryptor is null) != (responder.Selected == CryptoMethods.Plaintext) || (responder.Encryptor is null) != (responder.Decryptor is null))
            throw new InvalidOperationException("stream ciphers do not match the selected method");
        if (responder.InitialPayload.Length > MseResponder.MaxInitialPayload) throw new InvalidOperationException("initial payload over the limit");
        if (responder.InfoHash != Torrent) throw new InvalidOperationException("done for a torrent it was not offered");
        if (responder.Receive([1, 2, 3], out int after) != MseStatus.Done || after != 0) throw new InvalidOperationException("a finished handshake took more bytes");
    }

    private static byte[] Stream(Keys keys, int mode, ReadOnlySpan<byte> rest)
    {
        switch (mode)
        {
            case 0:
                return rest.ToArray();
            case 1:
                return [.. keys.PublicKey, .. rest];
            default:
                int padA;
                if (mode == 2)
                {
                    padA = rest.IsEmpty ? 0 : Math.Min(rest[0], rest.Length - 1);
                    rest = rest[Math.Min(1, rest.Length)..];
                }
                else
                {
                    padA = rest.Length < 2 ? 0 : rest[0] << 8 | rest[1];
                    rest = rest[Math.Min(2, rest.Length)..];
                }
                var padding = mode == 2 ? rest[..padA].ToArray() : new byte[padA];
                if (mode == 2) rest = rest[padA..];
                var encrypted = rest.ToArray();
                new Rc4(keys.KeyA).Apply(encrypted);
                return [.. keys.PublicKey, .. padding, .. keys.Req1, .. keys.ObfuscatedHash, .. encrypted];
        }
    }
}
