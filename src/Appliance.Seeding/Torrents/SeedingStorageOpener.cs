using Appliance.Protocol.Metainfo;
using Appliance.Storage;
using Microsoft.Extensions.Logging;

namespace Appliance.Seeding.Torrents;

/// <summary>Adapts the storage layer's opener (verification, fast resume, mmap or pread) to what the seeding loader asks for.</summary>
public sealed partial class SeedingStorageOpener(string stateFolder, StorageKind kind, ILogger logger,
    Metrics.Counters.VerificationProgress? verification = null) : IPieceStoreOpener
{
    public async Task<PieceStoreOpening> OpenAsync(TorrentMetainfo metainfo, string contentFolder, CancellationToken cancellationToken)
    {
        using var progress = verification?.Begin(metainfo.TotalLength);
        var result = await StorageOpener.OpenAsync(metainfo, contentFolder, stateFolder, kind, progress, cancellationToken).ConfigureAwait(false);
        foreach (var warning in result.Warnings) Warning(logger, metainfo.Name, warning);
        return result.Store is null
            ? PieceStoreOpening.Refused(result.RefusedReason ?? "storage refused it", result.Transient)
            : new PieceStoreOpening(result.Store, null, result.FromResume, result.PiecesHashed);
    }

    [LoggerMessage(3101, LogLevel.Warning, "{Name}: {Warning}")]
    private static partial void Warning(ILogger logger, string name, string warning);
}
