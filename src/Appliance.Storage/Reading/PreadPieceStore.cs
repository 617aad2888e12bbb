using Appliance.Protocol.Metainfo;
using Appliance.Storage.Files;

namespace Appliance.Storage.Reading;

/// <summary>
/// Serves blocks with positional reads into the caller's buffer (one copy, no mapping). The right choice on
/// file systems where mapped reads amplify I/O (btrfs, ZFS, NFS) and wherever bounded process memory matters
/// more than the copy.
/// </summary>
public sealed class PreadPieceStore : FilePieceStore
{
    internal PreadPieceStore(TorrentMetainfo metainfo, FileHandles files) : base(metainfo, files) { }

    public override bool SupportsSegments => false;

    public override bool TryGetSegments(int piece, int begin, int length, Span<BlockSegment> segments, out int count)
    {
        count = 0;
        return false;
    }
}
