using Appliance.Protocol.Metainfo;
using Appliance.Storage.Files;
using Appliance.Storage.Layout;

namespace Appliance.Storage;

/// <summary>
/// What both stores share: the layout, the pooled files, positional reads (<see cref="TryReadBlock"/>)
/// and the fault state. A failed or short read faults the store: the file changed under us, so nothing it
/// says can be trusted any more. A file that cannot be reopened fails only the read that needed it.
/// </summary>
public abstract class FilePieceStore : PieceStore
{
    private string? _faultReason;

    private protected FilePieceStore(TorrentMetainfo metainfo, FileHandles files) : base(metainfo)
    {
        Files = files;
        Layout = files.Layout;
    }

    public FileLayout Layout { get; }

    /// <summary>The torrent's files in the shared pool (the web seed leases their descriptors for sendfile).</summary>
    public FileHandles Files { get; }

    public override string? FaultReason => Volatile.Read(ref _faultReason);

    public override bool TryReadBlock(int piece, int begin, Span<byte> destination)
    {
        if (IsFaulted || !Layout.IsValidBlock(piece, begin, destination.Length)) return false;
        string? error = Files.Read(Layout.PieceOffset(piece) + begin, destination, out bool unavailable);
        if (error is null) return true;
        // A file that cannot be reopened (deleted, permissions) fails this read only; the pool counts and reports it.
        if (!unavailable) Fault(error);
        return false;
    }

    public override string? CheckFiles()
    {
        if (IsFaulted) return FaultReason;
        string? problem = Files.CheckSizes();
        if (problem is not null) Fault(problem);
        return FaultReason;
    }

    public override void Fault(string reason) => Interlocked.CompareExchange(ref _faultReason, reason, null);

    protected override void Dispose(bool disposing)
    {
        if (disposing) Files.Dispose();
    }
}
