using System.Buffers.Binary;
using System.Security.Cryptography;
using Appliance.Protocol.Encryption;
using Appliance.Protocol.Metainfo;
using Appliance.TestKit;

namespace Appliance.Protocol.Tests.Encryption;

public sealed class MseResponderTests
{
    private static readonly InfoHash Seeded = new(Enumerable.Range(1, 20).Select(i => (byte)i).ToArray());
    private static readonly byte[] BitTorrentHandshake = [19, .. "BitTorrent protocol"u8.ToArray(), .. new byte[48]];

    private sealed class Lookup(params InfoHash[] hashes) : IObfuscatedHashLookup
    {
        private readonly Dictionary<InfoHash, InfoHash> _byReq2 = hashes.ToDictionary(h =>
        {
            var req2 = new byte[20];
            MseKeyExchange.Req2(h.ToArray(), req2);
            return new InfoHash(req2);
        });

        public bool TryFindByReq2(ReadOnlySpan<byte> req2, out InfoHash infoHash) => _byReq2.TryGetValue(new InfoHash(req2), out infoHash);
    }

    private static MseResponder Responder(CryptoMethods allowed = CryptoMethods.Plaintext | CryptoMethods.Rc4, bool preferRc4 = false) =>
        new(new Lookup(Seeded, new InfoHash(new byte[20])), allowed, preferRc4);

    /// <summary>Step 1 to the responder, Yb back, step 3 to the responder (chunked as given); returns the last status.</summary>
    private static MseStatus Run(MseResponder responder, MseInitiator initiator, byte[] step3Tail, int chunk, out int leftOver, byte[]? step3 = null,
        int padA = 17, byte[]? afterwards = null)
    {
        Assert.Equal(MseStatus.NeedMoreData, Feed(responder, initiator.Step1(padA), chunk, out _));
        var yb = responder.Reply[..MseKeyExchange.KeyLength].ToArray();
        responder.ReplySent();
        step3 ??= initiator.Step3(yb, Seeded, CryptoMethods.Plaintext | CryptoMethods.Rc4, BitTorrentHandshake, padCLength: 5);
        return Feed(responder, [.. step3, .. step3Tail, .. afterwards ?? []], chunk, out leftOver);
    }

    private static MseStatus Feed(MseResponder responder, byte[] bytes, int chunk, out int leftOver)
    {
        leftOver = 0;
        for (int i = 0; i < bytes.Length; i += chunk)
        {
            var part = bytes.AsSpan(i, Math.Min(chunk, bytes.Length - i));
            var status = responder.Receive(part, out int consumed);
            if (status != MseStatus.NeedMoreData)
            {
                leftOver = bytes.Length - i - consumed;
                return status;
            }
            Assert.Equal(part.Length, consumed);
        }
        return MseStatus.NeedMoreData;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public void Handshake_in_any_chunking_yields_the_torrent_and_the_initial_payload(int chunk)
    {
        var responder = Responder();
        var initiator = new MseInitiator();
        var status = Run(responder, initiator, [], chunk, out int leftOver, afterwards: [1, 2, 3]);
        Assert.Equal(MseStatus.Done, status);
        Assert.Equal(3, leftOver);
        Assert.Equal(Seeded, responder.InfoHash);
        Assert.Equal(BitTorrentHandshake, responder.InitialPayload.ToArray());
        Assert.Equal(CryptoMethods.Plaintext, responder.Selected);
        Assert.Null(responder.Encryptor);
    }

    [Fact]
    public void Rc4_stream_continues_both_ways_after_the_handshake()
    {
        var responder = Responder(preferRc4: true);
        var initiator = new MseInitiator();
        Assert.Equal(MseStatus.Done, Run(responder, initiator, [], 4096, out _));
        Assert.Equal(CryptoMethods.Rc4, responder.Selected);

        // The answer: ENCRYPT(VC, crypto_select, len(PadD)) under key B.
        var select = responder.Reply.ToArray();
        initiator.Decryptor!.Apply(select);
        Assert.Equal(new byte[8], select[..8]);
        Assert.Equal((uint)CryptoMethods.Rc4, BinaryPrimitives.ReadUInt32BigEndian(select.AsSpan(8)));

        byte[] message = [0, 0, 0, 1, 2];
        var wire = message.ToArray();
        initiator.Encryptor!.Apply(wire);
        responder.Decryptor!.Apply(wire);
        Assert.Equal(message, wire);
        responder.Encryptor!.Apply(wire);
        initiator.Decryptor.Apply(wire);
        Assert.Equal(message, wire);
    }

    [Fact]
    public void Crypto_select_is_answered_before_the_initial_payload_arrives()
    {
        // libtorrent sends the initial payload in a segment of its own with Nagle on: it waits for our ACK, so our
        // answer must not wait for that payload (a delayed ACK would hold the connection 40 ms).
        var responder = Responder(preferRc4: true);
        var initiator = new MseInitiator();
        Assert.Equal(MseStatus.NeedMoreData, Feed(responder, initiator.Step1(17), 4096, out _));
        var yb = responder.Reply[..MseKeyExchange.KeyLength].ToArray();
        responder.ReplySent();
        var step3 = initiator.Step3(yb, Seeded, CryptoMethods.Plaintext | CryptoMethods.Rc4, BitTorrentHandshake, padCLength: 5);
        int withoutPayload = step3.Length - BitTorrentHandshake.Length;

        Assert.Equal(MseStatus.NeedMoreData, Feed(responder, step3[..withoutPayload], 4096, out _));
        var select = responder.Reply.ToArray();
        Assert.Equal(14, select.Length);
        initiator.Decryptor!.Apply(select);
        Assert.Equal(new byte[8], select[..8]);
        Assert.Equal((uint)CryptoMethods.Rc4, BinaryPrimitives.ReadUInt32BigEndian(select.AsSpan(8)));
        responder.ReplySent();

        Assert.Equal(MseStatus.Done, Feed(responder, step3[withoutPayload..], 4096, out _));
        Assert.Equal(0, responder.Reply.Length);
        Assert.Equal(BitTorrentHandshake, responder.InitialPayload.ToArray());
    }

    [Fact]
    public void Rc4_only_initiator_gets_rc4_even_when_plaintext_is_preferred()
    {
        var responder = Responder();
        var initiator = new MseInitiator();
        Assert.Equal(MseStatus.NeedMoreData, Feed(responder, initiator.Step1(0), 4096, out _));
        var step3 = initiator.Step3(responder.Reply[..MseKeyExchange.KeyLength], Seeded, CryptoMethods.Rc4, BitTorrentHandshake);
        Assert.Equal(MseStatus.Done, Feed(responder, step3, 4096, out _));
        Assert.Equal(CryptoMethods.Rc4, responder.Selected);
    }

    [Fact]
    public void Plaintext_only_initiator_is_refused_when_rc4_is_required()
    {
        var responder = Responder(CryptoMethods.Rc4);
        var initiator = new MseInitiator();
        Feed(responder, initiator.Step1(0), 4096, out _);
        var step3 = initiator.Step3(responder.Reply[..MseKeyExchange.KeyLength], Seeded, CryptoMethods.Plaintext, BitTorrentHandshake);
        Assert.Equal(MseStatus.Failed, Feed(responder, step3, 4096, out _));
        Assert.Contains("crypto_provide", responder.Failure);
    }

    [Fact]
    public void Unknown_obfuscated_info_hash_fails()
    {
        var responder = Responder();
        var initiator = new MseInitiator();
        Feed(responder, initiator.Step1(3), 4096, out _);
        var step3 = initiator.Step3(responder.Reply[..MseKeyExchange.KeyLength], new InfoHash(new byte[20].Select(_ => (byte)9).ToArray()),
            CryptoMethods.Rc4, BitTorrentHandshake);
        Assert.Equal(MseStatus.Failed, Feed(responder, step3, 4096, out _));
        Assert.Contains("no torrent", responder.Failure);
    }

    [Fact]
    public void Garbage_after_the_public_key_fails_once_the_padding_limit_is_passed()
    {
        var responder = Responder();
        var initiator = new MseInitiator();
        var garbage = RandomNumberGenerator.GetBytes(MseResponder.MaxPadLength + 20);
        Assert.Equal(MseStatus.NeedMoreData, Feed(responder, initiator.Step1(0), 4096, out _));
        Assert.Equal(MseStatus.Failed, Feed(responder, garbage, 100, out _));
        Assert.Contains("req1", responder.Failure);
    }

    [Fact]
    public void Nonzero_verification_constant_fails()
    {
        var responder = Responder();
        var initiator = new MseInitiator();
        Feed(responder, initiator.Step1(0), 4096, out _);
        var step3 = initiator.Step3(responder.Reply[..MseKeyExchange.KeyLength], Seeded, CryptoMethods.Rc4, BitTorrentHandshake);
        step3[40] ^= 1;
        Assert.Equal(MseStatus.Failed, Feed(responder, step3, 4096, out _));
        Assert.Contains("verification", responder.Failure);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Degenerate_public_keys_fail(byte value)
    {
        var responder = Responder();
        var key = new byte[MseKeyExchange.KeyLength];
        key[^1] = value;
        Assert.Equal(MseStatus.Failed, responder.Receive(key, out _));
    }

    [Fact]
    public void Oversized_padding_or_initial_payload_fails()
    {
        foreach (var (pad, payload) in new[] { (MseResponder.MaxPadLength + 1, 68), (0, MseResponder.MaxInitialPayload + 1) })
        {
            var responder = Responder();
            var initiator = new MseInitiator();
            Feed(responder, initiator.Step1(0), 4096, out _);
            var step3 = initiator.Step3(responder.Reply[..MseKeyExchange.KeyLength], Seeded, CryptoMethods.Rc4, new byte[payload], pad);
            Assert.Equal(MseStatus.Failed, Feed(responder, step3, 4096, out _));
        }
    }

    [Fact]
    public void Both_sides_of_the_key_exchange_derive_the_same_secret()
    {
        Span<byte> a = stackalloc byte[20], b = stackalloc byte[20];
        MseKeyExchange.CreatePrivateKey(a);
        MseKeyExchange.CreatePrivateKey(b);
        Span<byte> ya = stackalloc byte[96], yb = stackalloc byte[96], sa = stackalloc byte[96], sb = stackalloc byte[96];
        MseKeyExchange.PublicKey(a, ya);
        MseKeyExchange.PublicKey(b, yb);
        Assert.True(MseKeyExchange.TrySharedSecret(a, yb, sa));
        Assert.True(MseKeyExchange.TrySharedSecret(b, ya, sb));
        Assert.True(sa.SequenceEqual(sb));
    }

    [Fact]
    public void Rc4_discards_the_first_1024_bytes_of_key_stream()
    {
        // Reference: the plain RC4 key stream for key "Key" begins EB 9F 77 81 (RFC 6229-style published vector);
        // ours must instead produce bytes 1024.. of that same stream.
        var full = new byte[1024 + 16];
        ReferenceRc4("Key"u8, full);
        Assert.Equal(new byte[] { 0xEB, 0x9F, 0x77, 0x81 }, full[..4]);
        var ours = new byte[16];
        new Rc4("Key"u8).Apply(ours);
        Assert.Equal(full[1024..], ours);
    }

    private static void ReferenceRc4(ReadOnlySpan<byte> key, Span<byte> output)
    {
        var s = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        for (int i = 0, j = 0; i < 256; i++)
        {
            j = (j + s[i] + key[i % key.Length]) & 0xFF;
            (s[i], s[j]) = (s[j], s[i]);
        }
        for (int n = 0, i = 0, j = 0; n < output.Length; n++)
        {
            i = (i + 1) & 0xFF;
            j = (j + s[i]) & 0xFF;
            (s[i], s[j]) = (s[j], s[i]);
            output[n] ^= s[(s[i] + s[j]) & 0xFF];
        }
    }
}
