using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Appliance.Protocol.Encryption;
using Appliance.Protocol.Metainfo;
using Appliance.Protocol.PeerWire;
using Appliance.TestKit;

namespace Appliance.Seeding.Tests.Support;

/// <summary>A raw-socket peer that speaks just enough peer wire to drive the seeder; every read has a timeout.</summary>
internal sealed class FakePeer : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;

    private Rc4? _encryptor;
    private Rc4? _decryptor;

    private FakePeer(Socket socket) => _socket = socket;

    /// <summary>The stream method the seeder selected in an encrypted handshake (None for a plaintext peer).</summary>
    public CryptoMethods Encryption { get; private set; }

    /// <summary>Connects and runs an MSE/PE handshake whose initial payload is <paramref name="initialPayload"/>; with RC4, later sends and reads are encrypted.</summary>
    public static async Task<FakePeer> ConnectEncryptedAsync(IPEndPoint endPoint, InfoHash infoHash, CryptoMethods provide, byte[] initialPayload)
    {
        var peer = await ConnectAsync(endPoint);
        var initiator = new MseInitiator();
        peer._socket.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
        peer.Encryption = await Task.Run(() => initiator.Handshake(peer._socket, infoHash, provide, initialPayload));
        if (peer.Encryption == CryptoMethods.Rc4)
        {
            peer._encryptor = initiator.Encryptor;
            peer._decryptor = initiator.Decryptor;
        }
        return peer;
    }

    public Socket Socket => _socket;

    /// <summary>A <paramref name="receiveBufferSize"/> set before connecting bounds what the kernel reads on the peer's behalf.</summary>
    public static async Task<FakePeer> ConnectAsync(IPEndPoint endPoint, int receiveBufferSize = 0)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize > 0) socket.ReceiveBufferSize = receiveBufferSize;
        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(endPoint, cts.Token);
        return new FakePeer(socket);
    }

    public static byte[] HandshakeBytes(InfoHash infoHash, bool fast, bool extensions)
    {
        var bytes = new byte[Handshake.Length];
        ulong reserved = (fast ? 0x04UL : 0) | (extensions ? 0x10UL << 16 : 0);
        new Handshake(new ReservedBits(reserved), infoHash, new PeerId("-XX0001-abcdefghijkl"u8)).WriteTo(bytes);
        return bytes;
    }

    public Task SendHandshakeAsync(InfoHash infoHash, bool fast, bool extensions) => SendAsync(HandshakeBytes(infoHash, fast, extensions));

    public async Task<Handshake> ReadHandshakeAsync()
    {
        var bytes = await ReadExactlyAsync(Handshake.Length);
        Assert.Equal(HandshakeStatus.Complete, Handshake.TryParse(bytes, out var handshake));
        return handshake;
    }

    public async Task SendAsync(byte[] bytes)
    {
        using var cts = new CancellationTokenSource(Timeout);
        if (_encryptor is not null)
        {
            bytes = bytes.ToArray();
            _encryptor.Apply(bytes);
        }
        await _socket.SendAsync(bytes, SocketFlags.None, cts.Token);
    }

    public Task SendSimpleAsync(PeerMessageId id)
    {
        var bytes = new byte[5];
        PeerMessageWriter.WriteSimple(bytes, id);
        return SendAsync(bytes);
    }

    public static byte[] Block(PeerMessageId id, int piece, int begin, int length)
    {
        var bytes = new byte[PeerMessageWriter.RequestLength];
        PeerMessageWriter.WriteBlockMessage(bytes, id, new BlockRequest(piece, begin, length));
        return bytes;
    }

    public Task RequestAsync(int piece, int begin, int length) => SendAsync(Block(PeerMessageId.Request, piece, begin, length));

    public static byte[] Extended(byte id, ReadOnlySpan<byte> body)
    {
        var bytes = new byte[PeerMessageWriter.ExtendedHeaderLength + body.Length];
        PeerMessageWriter.WriteExtendedHeader(bytes, id, body.Length);
        body.CopyTo(bytes.AsSpan(PeerMessageWriter.ExtendedHeaderLength));
        return bytes;
    }

    /// <summary>Reads one message: (id, payload); keep-alives come back as id 255 with no payload.</summary>
    public async Task<(PeerMessageId Id, byte[] Payload)> ReadMessageAsync()
    {
        var prefix = await ReadExactlyAsync(4);
        int length = BinaryPrimitives.ReadInt32BigEndian(prefix);
        if (length == 0) return ((PeerMessageId)255, []);
        var body = await ReadExactlyAsync(length);
        return ((PeerMessageId)body[0], body[1..]);
    }

    /// <summary>Reads messages until one with <paramref name="id"/> arrives (others are skipped).</summary>
    public async Task<byte[]> ReadUntilAsync(PeerMessageId id)
    {
        while (true)
        {
            var (got, payload) = await ReadMessageAsync();
            if (got == id) return payload;
        }
    }

    public async Task<byte[]> ReadExactlyAsync(int count)
    {
        using var cts = new CancellationTokenSource(Timeout);
        return await FillAsync(new byte[count], 0, cts.Token);
    }

    private async Task<byte[]> FillAsync(byte[] buffer, int filled, CancellationToken ct)
    {
        while (filled < buffer.Length)
        {
            int n = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, ct);
            if (n == 0) throw new EndOfStreamException($"closed after {filled} of {buffer.Length} bytes");
            _decryptor?.Apply(buffer.AsSpan(filled, n));
            filled += n;
        }
        return buffer;
    }

    /// <summary>True when the seeder closes the connection (reads drain whatever was queued before the close).</summary>
    public async Task<bool> WaitClosedAsync()
    {
        var buffer = new byte[64 * 1024];
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            while (true)
            {
                int n = await _socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, cts.Token);
                if (n == 0) return true;
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose() => _socket.Dispose();
}
