using System.Globalization;
using System.Net;
using Appliance.LoadGen;
using Appliance.TestKit;

namespace Appliance.LoadGen.Tests;

/// <summary>
/// LoadGen against libtorrent (python3-libtorrent) as the seeder: the side-by-side benchmarks need both seeders to accept
/// LoadGen's peers. Encrypted: libtorrent is stricter than the appliance's responder (it refuses an initial payload longer
/// than the 68-byte handshake), so a LoadGen that only the appliance accepts fails here. uTP: our dialing side against
/// libtorrent's uTP, an implementation that is not ours.
/// </summary>
public sealed class LibtorrentSeederTests
{
    // argv: torrent, save path, then "rc4" (encryption forced) or "utp" (uTP only: TCP off both ways).
    private const string Seeder = """
        import sys, time, libtorrent as lt
        torrent, save_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
        settings = {"listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
            "enable_upnp": False, "enable_natpmp": False, "enable_incoming_utp": False, "enable_outgoing_utp": False,
            "allow_multiple_connections_per_ip": True}
        if mode == "rc4":
            settings.update({"in_enc_policy": 0, "allowed_enc_level": 3})
        if mode == "utp":
            settings.update({"enable_incoming_utp": True, "enable_incoming_tcp": False, "enable_outgoing_tcp": False})
        session = lt.session(settings)
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
        var peer = await DownloadAsync("rc4", rc4: true, TransportKind.Tcp);
        Assert.Equal(0, peer.VerifyFailures);
    }

    [Fact]
    public async Task Utp_connection_downloads_and_verifies_every_piece_from_a_libtorrent_seeder_that_takes_only_utp()
    {
        // The seeder takes no TCP: a download that completes came over uTP.
        var peer = await DownloadAsync("utp", rc4: false, TransportKind.Utp);
        Assert.Equal(0, peer.VerifyFailures);
        Assert.Equal(0, peer.UnexpectedBlocks);
    }

    private static async Task<LoadPeer> DownloadAsync(string mode, bool rc4, TransportKind transport)
    {
        using var temp = new TempDirectory("loadgen-lt-" + mode);
        string content = temp.CreateSubdirectory("content");
        string file = SampleContent.WriteFile(Path.Combine(content, "data.bin"), 1024 * 1024 + 777, seed: 11);
        string torrentPath = temp.Combine("data.torrent");
        var torrent = TestTorrents.Write(file, torrentPath, pieceLength: 64 * 1024);
        string script = temp.Combine("seed.py");
        await File.WriteAllTextAsync(script, Seeder);
        using var seeder = ExternalProcess.Start("/usr/bin/python3", [script, torrentPath, content, mode]);
        string ready = await seeder.WaitForLineAsync(l => l.StartsWith("READY ", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        var endPoint = new IPEndPoint(IPAddress.Loopback, int.Parse(ready.AsSpan(6), CultureInfo.InvariantCulture));

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var peer = new LoadPeer(torrent, new LoadRun(), pipeline: 16, receiveBufferBytes: 256 * 1024, startPiece: 0, copy: null, rc4: rc4);
        peer.DownloadOnce();
        await peer.ConnectAsync(endPoint, source: null, soRcvBuf: 0, stop.Token, transport);
        await peer.RunAsync(interested: true, stop.Token);

        Assert.False(stop.IsCancellationRequested, "the download did not finish in time\n" + seeder.AllOutput);
        Assert.Null(peer.Failure);
        Assert.True(peer.IsComplete, $"{peer.PiecesVerified} of {torrent.PieceCount} pieces");
        peer.Dispose();
        return peer;
    }
}
