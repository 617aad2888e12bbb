using System.Net;
using System.Net.Sockets;
using Appliance.Networking.Udp;
using Appliance.Networking.Utp;
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
        new Handshake(ReservedBits.Ours, torrent.InfoHash, PeerId.CreateOurs()).WriteTo(ours);
        await socket.SendAsync(ours, bound.Token);
        var theirs = new byte[Handshake.Length];
        for (int read = 0; read < theirs.Length;)
        {
            int n = await socket.ReceiveAsync(theirs.AsMemory(read), bound.Token);
            Assert.True(n > 0, $"the seeder ended the connection after {read} bytes\n{serve.AllOutput}");
            read += n;
        }
        Assert.Equal(HandshakeStatus.Complete, Handshake.TryParse(theirs, out var handshake));
        Assert.Equal(torrent.InfoHash, handshake.InfoHash);
        socket.Close();
    }
}
