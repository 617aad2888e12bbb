using System.Globalization;
using System.Net;
using Appliance.LoadGen;
using Appliance.TestKit;

namespace Appliance.LoadGen.Tests;

/// <summary>
/// LoadGen's encrypted peers against libtorrent (python3-libtorrent) as the seeder: the side-by-side RC4 benchmark
/// needs both seeders to accept them. libtorrent is stricter than the appliance's responder (it refuses an initial
/// payload longer than the 68-byte handshake), so a LoadGen that only the appliance accepts fails here.
/// </summary>
public sealed class LibtorrentRc4SeederTests
{
    private const string Seeder = """
        import sys, time, libtorrent as lt
        torrent, save_path = sys.argv[1], sys.argv[2]
        session = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
            "enable_upnp": False, "enable_natpmp": False, "enable_incoming_utp": False, "enable_outgoing_utp": False,
            "allow_multiple_connections_per_ip": True, "in_enc_policy": 0, "allowed_enc_level": 3})
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrent)
        params.save_path = save_path
        handle = session.add_torrent(params)
        deadline = time.monotonic() + 120
        while not handle.status().is_seeding and time.monotonic() < deadline:
            time.sleep(0.05)
        print("READY %d" % session.listen_port(), flush=True)
        while time.monotonic() < deadline:
            time.sleep(0.2)
        """;

    [Fact]
    public async Task Rc4_connections_download_and_verify_every_piece_from_a_libtorrent_seeder()
    {
        using var temp = new TempDirectory("loadgen-lt-rc4");
        string content = temp.CreateSubdirectory("content");
        string file = SampleContent.WriteFile(Path.Combine(content, "data.bin"), 1024 * 1024 + 777, seed: 11);
        string torrentPath = temp.Combine("data.torrent");
        var torrent = TestTorrents.Write(file, torrentPath, pieceLength: 64 * 1024);
        string script = temp.Combine("seed.py");
        await File.WriteAllTextAsync(script, Seeder);
        using var seeder = ExternalProcess.Start("/usr/bin/python3", [script, torrentPath, content]);
        string ready = await seeder.WaitForLineAsync(l => l.StartsWith("READY ", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        var endPoint = new IPEndPoint(IPAddress.Loopback, int.Parse(ready.AsSpan(6), CultureInfo.InvariantCulture));

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var peer = new LoadPeer(torrent, new LoadRun(), pipeline: 16, receiveBufferBytes: 256 * 1024, startPiece: 0, copy: null, rc4: true);
        peer.DownloadOnce();
        await peer.ConnectAsync(endPoint, source: null, soRcvBuf: 0, stop.Token);
        await peer.RunAsync(interested: true, stop.Token);

        Assert.False(stop.IsCancellationRequested, "the download did not finish in time\n" + seeder.AllOutput);
        Assert.Null(peer.Failure);
        Assert.True(peer.IsComplete, $"{peer.PiecesVerified} of {torrent.PieceCount} pieces");
        Assert.Equal(0, peer.VerifyFailures);
        peer.Dispose();
    }
}
