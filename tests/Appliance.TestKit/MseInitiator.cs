using System.Buffers.Binary;
using System.Net.Sockets;
using Appliance.Protocol.Encryption;
using Appliance.Protocol.Metainfo;

namespace Appliance.TestKit;

/// <summary>
/// The initiating side (A) of an MSE/PE handshake, for tests: what a client sends and how it reads the answer. Steps are
/// separate so hostile tests can send a broken part.
/// </summary>
public sealed class MseInitiator
{
    private readonly byte[] _privateKey = new byte[MseKeyExchange.PrivateKeyLength];
    private readonly byte[] _secret = new byte[MseKeyExchange.KeyLength];

    public MseInitiator()
    {
        MseKeyExchange.CreatePrivateKey(_privateKey);
        PublicKey = new byte[MseKeyExchange.KeyLength];
        MseKeyExchange.PublicKey(_privateKey, PublicKey);
    }

    public byte[] PublicKey { get; }

    /// <summary>Key A: what we send after step 3's hashes.</summary>
    public Rc4? Encryptor { get; private set; }

    /// <summary>Key B: what the responder sends.</summary>
    public Rc4? Decryptor { get; private set; }

    /// <summary>Step 1: Ya and PadA.</summary>
    public byte[] Step1(int padLength) => [.. PublicKey, .. new byte[padLength]];

    /// <summary>Step 3 after Yb arrived: req1, req2 xor req3, then the encrypted VC, crypto_provide, PadC and IA.</summary>
    public byte[] Step3(ReadOnlySpan<byte> responderKey, InfoHash skey, CryptoMethods provide, ReadOnlySpan<byte> initialPayload, int padCLength = 0)
    {
        if (!MseKeyExchange.TrySharedSecret(_privateKey, responderKey, _secret)) throw new InvalidOperationException("bad responder key");
        var skeyBytes = skey.ToArray();
        var message = new byte[40 + 8 + 4 + 2 + padCLength + 2 + initialPayload.Length];
        MseKeyExchange.Hash("req1"u8, _secret, default, message.AsSpan(0, 20));
        Span<byte> req3 = stackalloc byte[20];
        MseKeyExchange.Req2(skeyBytes, message.AsSpan(20, 20));
        MseKeyExchange.Hash("req3"u8, _secret, default, req3);
        for (int i = 0; i < 20; i++) message[20 + i] ^= req3[i];
        var body = message.AsSpan(40);
        BinaryPrimitives.WriteUInt32BigEndian(body[8..], (uint)provide);
        BinaryPrimitives.WriteUInt16BigEndian(body[12..], (ushort)padCLength);
        BinaryPrimitives.WriteUInt16BigEndian(body[(14 + padCLength)..], (ushort)initialPayload.Length);
        initialPayload.CopyTo(body[(16 + padCLength)..]);
        Span<byte> key = stackalloc byte[20];
        MseKeyExchange.Hash("keyA"u8, _secret, skeyBytes, key);
        Encryptor = new Rc4(key);
        MseKeyExchange.Hash("keyB"u8, _secret, skeyBytes, key);
        Decryptor = new Rc4(key);
        Encryptor.Apply(body);
        return message;
    }

    /// <summary>
    /// Runs the whole handshake on a connected socket with blocking calls (so a socket that never went async stays
    /// blocking, and measurements of the other side see no allocation of ours): returns the method the responder
    /// selected; afterwards <see cref="Encryptor"/> and <see cref="Decryptor"/> carry the stream when it is RC4.
    /// </summary>
    public CryptoMethods Handshake(Socket socket, InfoHash skey, CryptoMethods provide, byte[] initialPayload)
    {
        socket.Send(Step1(Random.Shared.Next(0, 64)));
        var yb = new byte[MseKeyExchange.KeyLength];
        ReadExactly(socket, yb);
        socket.Send(Step3(yb, skey, provide, initialPayload, Random.Shared.Next(0, 32)));

        // PadB has no length: find ENCRYPT(VC), the key B stream's first 8 bytes, within the next 512 + 8 bytes.
        var vc = new byte[8];
        Decryptor!.Apply(vc);
        var window = new List<byte>();
        var one = new byte[1];
        while (window.Count < 8 || !window.TakeLast(8).SequenceEqual(vc))
        {
            if (window.Count > 512 + 8) throw new InvalidOperationException("no verification constant from the responder");
            ReadExactly(socket, one);
            window.Add(one[0]);
        }
        var select = new byte[6];
        ReadExactly(socket, select);
        Decryptor.Apply(select);
        var padD = new byte[BinaryPrimitives.ReadUInt16BigEndian(select.AsSpan(4))];
        ReadExactly(socket, padD);
        Decryptor.Apply(padD);
        return (CryptoMethods)BinaryPrimitives.ReadUInt32BigEndian(select);
    }

    private static void ReadExactly(Socket socket, byte[] buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = socket.Receive(buffer, read, buffer.Length - read, SocketFlags.None);
            if (n == 0) throw new EndOfStreamException($"closed after {read} of {buffer.Length} bytes");
            read += n;
        }
    }
}
