using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Udp;
using Appliance.Networking.Utp;
using Appliance.Protocol.Identity;
using Appliance.Protocol.PeerWire;
using Appliance.TestKit;

namespace Appliance.Tests.Hosting;

/// <summary>
/// <c>appliance serve</c> answers uTP peers of both families on an IPv6 listen address, with the DHT on: the port's IPv4
/// datagrams reach the IPv4 DHT node's socket and its IPv6 ones the IPv6 node's (IPv6 only), and uTP shares both.
/// The client is our own uTP dialing side.
/// </summary>
public sealed class UtpListenTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _temp = new("utp-listen");

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("[::1]", "::1")]
    [InlineData("[::]", "::1")]
    [InlineData("[::]", "127.0.0.1")]
    public async Task Utp_peer_of_either_family_gets_the_seeders_handshake(string listenHost, string dialAddress)
    {
        string content = _temp.CreateSubdirectory("content");
        string file = SampleContent.WriteFile(Path.Combine(content, "data.bin"), 256 * 1024, seed: 3);
        var torrent = TestTorrents.Write(file, Path.Combine(content, "data.torrent"));
        int port = Ports.FreeTcpAndUdp();
        using var serve = ApplianceBinary.Start(["serve", "--content", content, "--listen", $"{listenHost}:{port}", "--no-tracker",
            "--dht-bootstrap", "none", "--metrics-listen", "", "--state", _temp.CreateSubdirectory("state")]);
        await serve.WaitForLineAsync(l => l.StartsWith("seeding ", StringComparison.Ordinal), Bound);
        var remote = new IPEndPoint(IPAddress.Parse(dialAddress), port);
        bool v6 = remote.AddressFamily == AddressFamily.InterNetworkV6;
        await serve.WaitForLineAsync(l => l.StartsWith("utp listening on ", StringComparison.Ordinal) && l.Contains('[') == v6, Bound);

        using var endpoint = new DatagramEndpoint(new IPEndPoint(v6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 0));
        using var port0 = new UtpListener(endpoint, acceptor: null, new UtpCounters());
        port0.Start();
        endpoint.Start(port0, "utp-listen-test");
        using var bound = new CancellationTokenSource(Bound);
        using var socket = await UtpSocket.ConnectAsync(port0, remote, bound.Token);

        var ours = new byte[Handshake.Length];
        new Handshake(ReservedBits.Ours, torrent.InfoHash, ClientIdentity.NewPeerId()).WriteTo(ours);
        await socket.SendAsync(ours, bound.Token);
        var theirs = await ReadExactlyAsync(socket, Handshake.Length, bound.Token);
        Assert.Equal(HandshakeStatus.Complete, Handshake.TryParse(theirs, out var handshake));
        Assert.Equal(torrent.InfoHash, handshake.InfoHash);
        socket.Close();
    }

    [Fact]
    public async Task Utp_peer_gets_an_answer_to_every_request_when_serve_is_stopped()
    {
        string content = _temp.CreateSubdirectory("content");
        const int blocks = 256;
        string file = SampleContent.WriteFile(Path.Combine(content, "data.bin"), blocks * 16 * 1024, seed: 4);
        var torrent = TestTorrents.Write(file, Path.Combine(content, "data.torrent"));
        int port = Ports.FreeTcpAndUdp();
        using var serve = ApplianceBinary.Start(["serve", "--content", content, "--listen", $"127.0.0.1:{port}", "--no-tracker", "--no-dht",
            "--metrics-listen", "", "--upload-slots", "unlimited", "--state", _temp.CreateSubdirectory("state")]);
        await serve.WaitForLineAsync(l => l.StartsWith("listening on ", StringComparison.Ordinal), Bound);

        using var endpoint = new DatagramEndpoint(new IPEndPoint(IPAddress.Loopback, 0));
        using var port0 = new UtpListener(endpoint, acceptor: null, new UtpCounters());
        port0.Start();
        endpoint.Start(port0, "utp-drain-test");
        using var bound = new CancellationTokenSource(Bound);
        using var socket = await UtpSocket.ConnectAsync(port0, new IPEndPoint(IPAddress.Loopback, port), bound.Token);
        var ours = new byte[Handshake.Length];
        new Handshake(new ReservedBits(0x04), torrent.InfoHash, ClientIdentity.NewPeerId()).WriteTo(ours); // the fast extension: every request gets a piece or a reject
        await socket.SendAsync(ours, bound.Token);
        await ReadExactlyAsync(socket, Handshake.Length, bound.Token);
        await socket.SendAsync(new byte[] { 0, 0, 0, 1, (byte)PeerMessageId.Interested }, bound.Token);
        while ((await ReadMessageAsync(socket, bound.Token)).Id != PeerMessageId.Unchoke) { }

        var requests = new byte[blocks * 17];
        for (int i = 0; i < blocks; i++)
        {
            var request = requests.AsSpan(i * 17, 17);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(request, 13);
            request[4] = (byte)PeerMessageId.Request;
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(request[5..], i * 16 * 1024 / torrent.PieceLength);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(request[9..], i * 16 * 1024 % torrent.PieceLength);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(request[13..], 16 * 1024);
        }
        await socket.SendAsync(requests, bound.Token);
        Assert.Equal(PeerMessageId.Piece, (await ReadMessageAsync(socket, bound.Token)).Id);
        serve.Terminate();

        int pieces = 1, rejects = 0;
        while (pieces + rejects < blocks)
        {
            var (id, _) = await ReadMessageAsync(socket, bound.Token);
            if (id == PeerMessageId.Piece) pieces++;
            else if (id == PeerMessageId.RejectRequest) rejects++;
        }
        Assert.True(pieces + rejects == blocks, $"{pieces} pieces and {rejects} rejects for {blocks} requests\n{serve.AllOutput}");
        await serve.WaitForExitAsync(Bound);
        Assert.True(serve.ExitCode == 0, serve.AllOutput);
    }

    private static async Task<byte[]> ReadExactlyAsync(UtpSocket socket, int length, CancellationToken token)
    {
        var buffer = new byte[length];
        for (int read = 0; read < length;)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), token);
            if (n == 0) throw new EndOfStreamException($"the seeder ended the connection after {read} of {length} bytes");
            read += n;
        }
        return buffer;
    }

    private static async Task<(PeerMessageId Id, byte[] Payload)> ReadMessageAsync(UtpSocket socket, CancellationToken token)
    {
        int length;
        do length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(await ReadExactlyAsync(socket, 4, token));
        while (length == 0); // keep-alive
        var body = await ReadExactlyAsync(socket, length, token);
        return ((PeerMessageId)body[0], body[1..]);
    }
}
