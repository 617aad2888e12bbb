using System.Net;
using Appliance.LoadGen;
using Appliance.Protocol.Metainfo;

namespace Appliance.LoadGen.Tests;

/// <summary>
/// LoadGen connections run against a seeder until each has finished a number of pieces (pass or fail), or with
/// <c>once</c> until each has walked every piece once (LoadGen's complete mode) and left; bounded.
/// </summary>
internal static class Leechers
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    public static async Task<LoadPeer[]> DownloadAsync(TorrentMetainfo torrent, IPEndPoint seeder, int peers, VerifiedCopy? copy, int piecesEach,
        bool rc4 = false, JoinKind join = JoinKind.V1, bool once = false, TransportKind transport = TransportKind.Tcp, BlockDigests? digests = null)
    {
        var run = new LoadRun();
        var leechers = new LoadPeer[peers];
        using var stop = new CancellationTokenSource(Bound);
        for (var i = 0; i < peers; i++)
        {
            leechers[i] = new LoadPeer(torrent, run, pipeline: 16, receiveBufferBytes: 256 * 1024, startPiece: i * torrent.PieceCount / peers, copy, rc4, join, digests);
            if (once) leechers[i].DownloadOnce();
            await leechers[i].ConnectAsync(seeder, source: null, soRcvBuf: 0, stop.Token, transport);
        }
        var loops = leechers.Select(p => Task.Run(() => p.RunAsync(interested: true, stop.Token))).ToArray();
        while (!stop.IsCancellationRequested && leechers.Any(p => p.Failure is null && (once ? !p.IsComplete : Finished(p) < piecesEach)))
            await Task.Delay(10);
        Assert.False(stop.IsCancellationRequested, $"the download did not finish within {Bound}");
        await stop.CancelAsync();
        foreach (var p in leechers) p.Close();
        await Task.WhenAll(loops);
        foreach (var p in leechers) p.Dispose();
        return leechers;
    }

    public static long Finished(LoadPeer p) => Volatile.Read(ref p.PiecesVerified) + Volatile.Read(ref p.VerifyFailures);
}
