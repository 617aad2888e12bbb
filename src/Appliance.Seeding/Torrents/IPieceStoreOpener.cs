using Appliance.Protocol.Metainfo;
using Appliance.Storage;
using Appliance.Storage.Resume;

namespace Appliance.Seeding.Torrents;

/// <summary>Opens (and verifies) a torrent's data for seeding. The host adapts the storage layer's opener to this.</summary>
public interface IPieceStoreOpener
{
    Task<PieceStoreOpening> OpenAsync(TorrentMetainfo metainfo, string contentFolder, CancellationToken cancellationToken);
}

/// <summary>Either a store ready to serve, or the reason the torrent is refused (<see cref="Transient"/>: worth retrying unchanged).</summary>
public readonly record struct PieceStoreOpening(PieceStore? Store, string? RefusedReason, bool FromResume = false, int PiecesHashed = 0)
{
    public bool Transient { get; init; }

    /// <summary>The verification to record once the torrent serves (null: nothing changed); the loader queues it.</summary>
    public ResumeState? ResumeToSave { get; init; }

    public static PieceStoreOpening Refused(string reason, bool transient = false, ResumeState? resumeToSave = null) =>
        new(null, reason) { Transient = transient, ResumeToSave = resumeToSave };
}
