using Appliance.Protocol.Metainfo;
using Appliance.Storage;
using Appliance.Storage.Pool;
using Microsoft.Extensions.Logging;

namespace Appliance.Seeding.Torrents;

/// <summary>
/// Adapts the storage layer's opener (verification, fast resume, mmap or pread) to what the seeding loader asks for.
/// Every torrent's files go through one <see cref="FilePool"/>; a file it cannot reopen later is logged here until the
/// opener is disposed (the pool, often the process-wide shared one, outlives it and would otherwise keep its logger).
/// </summary>
public sealed partial class SeedingStorageOpener : IPieceStoreOpener, IDisposable
{
    private readonly string _stateFolder;
    private readonly StorageKind _kind;
    private readonly ILogger _logger;
    private readonly Metrics.Counters.VerificationProgress? _verification;
    private readonly Action<string, string> _logOpenFailure;

    public SeedingStorageOpener(string stateFolder, StorageKind kind, ILogger logger,
        Metrics.Counters.VerificationProgress? verification = null, FilePool? pool = null)
    {
        _stateFolder = stateFolder;
        _kind = kind;
        _logger = logger;
        _verification = verification;
        Pool = pool ?? FilePool.Shared;
        _logOpenFailure = (path, reason) => OpenFailed(_logger, path, reason);
        Pool.OpenFailed += _logOpenFailure;
    }

    public FilePool Pool { get; }

    /// <summary>Stops logging the pool's open failures; the stores already opened keep serving.</summary>
    public void Dispose() => Pool.OpenFailed -= _logOpenFailure;

    public async Task<PieceStoreOpening> OpenAsync(TorrentMetainfo metainfo, string contentFolder, CancellationToken cancellationToken)
    {
        using var progress = _verification?.Begin(metainfo.TotalLength);
        var result = await StorageOpener.OpenAsync(metainfo, contentFolder, _stateFolder, _kind, progress, cancellationToken, Pool).ConfigureAwait(false);
        foreach (var warning in result.Warnings) Warning(_logger, metainfo.Name, warning);
        return result.Store is null
            ? PieceStoreOpening.Refused(result.RefusedReason ?? "storage refused it", result.Transient, result.ResumeToSave)
            : new PieceStoreOpening(result.Store, null, result.FromResume, result.PiecesHashed) { ResumeToSave = result.ResumeToSave };
    }

    [LoggerMessage(3101, LogLevel.Warning, "{Name}: {Warning}")]
    private static partial void Warning(ILogger logger, string name, string warning);

    [LoggerMessage(3102, LogLevel.Warning, "cannot open '{Path}': {Reason}; the read that needed it fails, the torrent keeps seeding")]
    private static partial void OpenFailed(ILogger logger, string path, string reason);
}
