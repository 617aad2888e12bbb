namespace Appliance.Storage;

/// <summary>
/// One contiguous run of a block's bytes. A block inside one file is one segment; a block that crosses
/// file boundaries in a multi-file torrent is several. For the mapped store, <see cref="Memory"/> views the
/// mapping without copying (its Pin() yields the mapped address, so a socket send hands the kernel the
/// mapped pages and user code never touches them).
/// </summary>
public readonly struct BlockSegment(ReadOnlyMemory<byte> memory)
{
    public ReadOnlyMemory<byte> Memory { get; } = memory;

    public int Length => Memory.Length;
}
