using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Protocol.Identity;
using Appliance.Protocol.Krpc;
using Appliance.Protocol.PeerWire;
using Appliance.TestKit;

namespace Appliance.Tests.Hosting;

/// <summary>
/// <c>appliance serve</c> names itself the same way on every wire: the peer id it announces is the one in its
/// handshakes, and the BEP 10 <c>v</c>, KRPC <c>v</c> and HTTP User-Agent all come from <see cref="ClientIdentity"/>.
/// </summary>
public sealed class ClientIdentityTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _temp = new("identity");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Announce_handshake_extension_handshake_and_dht_reply_carry_one_identity()
    {
        using var tracker = new TcpListener(IPAddress.Loopback, 0);
        tracker.Start();
        var trackerPort = ((IPEndPoint)tracker.LocalEndpoint).Port;
        string content = _temp.CreateSubdirectory("content");
        string file = SampleContent.WriteFile(Path.Combine(content, "data.bin"), 64 * 1024, seed: 5);
        var torrent = TestTorrents.Write(file, Path.Combine(content, "data.torrent"), trackers: [$"http://127.0.0.1:{trackerPort}/announce"]);
        int port = Ports.FreeTcpAndUdp();
        using var serve = ApplianceBinary.Start(["serve", "--content", content, "--listen", $"127.0.0.1:{port}", "--no-tracker",
            "--dht-bootstrap", "none", "--metrics-listen", "", "--state", _temp.CreateSubdirectory("state")]);
        using var bound = new CancellationTokenSource(Bound);

        // The first announce: its User-Agent and peer_id.
        string head;
        using (var announce = await tracker.AcceptTcpClientAsync(bound.Token))
        {
            head = await ReadHeadAsync(announce.GetStream(), bound.Token);
            byte[] body = "d8:intervali1800e5:peers0:e"u8.ToArray();
            await announce.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n").Concat(body).ToArray(), bound.Token);
        }
        string target = head.Split("\r\n")[0].Split(' ')[1];
        string peerIdField = target[(target.IndexOf('?', StringComparison.Ordinal) + 1)..].Split('&').Single(p => p.StartsWith("peer_id=", StringComparison.Ordinal))["peer_id=".Length..];
        byte[] announcedPeerId = WebUtility.UrlDecodeToBytes(Encoding.ASCII.GetBytes(peerIdField), 0, peerIdField.Length);
        Assert.Equal(PeerId.Length, announcedPeerId.Length);
        Assert.True(announcedPeerId.AsSpan().StartsWith(ClientIdentity.PeerIdPrefix), Encoding.ASCII.GetString(announcedPeerId));
        string userAgent = head.Split("\r\n").Single(l => l.StartsWith("User-Agent:", StringComparison.OrdinalIgnoreCase))["User-Agent:".Length..].Trim();
        Assert.Equal(ClientIdentity.UserAgent, userAgent);

        // The handshake reply carries the announced peer id; the extension handshake names the same client.
        await serve.WaitForLineAsync(l => l.StartsWith("listening on ", StringComparison.Ordinal), Bound);
        using (var peer = new TcpClient())
        {
            await peer.ConnectAsync(IPAddress.Loopback, port, bound.Token);
            var stream = peer.GetStream();
            var ours = new byte[Handshake.Length];
            new Handshake(ReservedBits.Ours, torrent.InfoHash, ClientIdentity.NewPeerId()).WriteTo(ours);
            await stream.WriteAsync(ours, bound.Token);
            var theirs = new byte[Handshake.Length];
            await stream.ReadExactlyAsync(theirs, bound.Token);
            Assert.Equal(HandshakeStatus.Complete, Handshake.TryParse(theirs, out var handshake));
            Assert.Equal(new PeerId(announcedPeerId), handshake.PeerId);
            Assert.True(handshake.Reserved.SupportsExtensionProtocol);

            byte[] extensionHandshake = await ReadExtensionHandshakeAsync(stream, bound.Token);
            Assert.Contains(BencodedString("v", ClientIdentity.ExtensionVersion), Latin1(extensionHandshake), StringComparison.Ordinal);
        }

        // The DHT node answers a ping with our KRPC version.
        string dhtLine = await serve.WaitForLineAsync(l => l.StartsWith("dht listening on ", StringComparison.Ordinal), Bound);
        var node = IPEndPoint.Parse(dhtLine.Split(' ')[3]);
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var packet = new byte[256];
        int length = KrpcWriter.WritePing(packet, "pi"u8, new byte[20], "TS01"u8);
        await udp.SendToAsync(packet.AsMemory(0, length), SocketFlags.None, node);
        var reply = new byte[1500];
        var received = await udp.ReceiveFromAsync(reply, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), bound.Token);
        Assert.Contains(BencodedString("v", ClientIdentity.DhtVersion), Latin1(reply.AsSpan(0, received.ReceivedBytes)), StringComparison.Ordinal);

        serve.Terminate();
        await serve.WaitForExitAsync(TimeSpan.FromSeconds(30));
    }

    private static string Latin1(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    private static string BencodedString(string key, ReadOnlySpan<byte> value) => $"{key.Length}:{key}{value.Length}:{Latin1(value)}";

    private static async Task<string> ReadHeadAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var head = new StringBuilder();
        var buffer = new byte[4096];
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int n = await stream.ReadAsync(buffer, cancellationToken);
            if (n == 0) throw new EndOfStreamException("announce closed before its head ended");
            head.Append(Encoding.Latin1.GetString(buffer, 0, n));
        }
        return head.ToString();
    }

    /// <summary>Reads peer-wire messages until the BEP 10 extension handshake (message 20, extended id 0); returns its dictionary.</summary>
    private static async Task<byte[]> ReadExtensionHandshakeAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var prefix = new byte[4];
        for (int i = 0; i < 16; i++)
        {
            await stream.ReadExactlyAsync(prefix, cancellationToken);
            int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(prefix);
            var message = new byte[length];
            await stream.ReadExactlyAsync(message, cancellationToken);
            if (length >= 2 && message[0] == 20 && message[1] == ExtensionHandshake.HandshakeId) return message[2..];
        }
        throw new InvalidDataException("no extension handshake among the first messages");
    }
}
