using Appliance.Protocol.Metainfo;
using Appliance.Seeding.Torrents;
using Appliance.Storage;

namespace Appliance.TestKit;

/// <summary>
/// The real storage opener (pread stores), counting how often a torrent's data is opened and verified. With
/// <paramref name="failFirstOpen"/> the first open fails as a process out of file descriptors would (EMFILE).
/// </summary>
public sealed class CountingStorageOpener(string stateFolder, bool failFirstOpen = false) : IPieceStoreOpener
{
    private int _opens;

    public int Opens => Volatile.Read(ref _opens);

    public async Task<PieceStoreOpening> OpenAsync(TorrentMetainfo metainfo, string contentFolder, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _opens) == 1 && failFirstOpen) throw new IOException("Too many open files", 24);
        var result = await StorageOpener.OpenAsync(metainfo, contentFolder, stateFolder, StorageKind.Pread, null, cancellationToken);
        return result.Store is null
            ? PieceStoreOpening.Refused(result.RefusedReason ?? "refused", resumeToSave: result.ResumeToSave)
            : new PieceStoreOpening(result.Store, null, result.FromResume, result.PiecesHashed) { ResumeToSave = result.ResumeToSave };
    }
}
