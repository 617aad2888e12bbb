using System.Buffers;
using Appliance.Storage.Pool;

namespace Appliance.Storage.Mapping;

/// <summary>
/// A window (at most <see cref="int.MaxValue"/> bytes) of one file's mapping, exposed as Memory&lt;byte&gt;.
/// Pin() hands out the mapped address and keeps the whole mapping alive until Unpin, so a socket send still
/// in flight when the file is evicted from the pool or the store is disposed never sees the pages unmapped under it.
/// </summary>
internal sealed unsafe class MappedWindow : MemoryManager<byte>
{
    private readonly OpenFile _owner;
    private readonly byte* _address;
    private readonly int _length;

    public MappedWindow(OpenFile owner, nint address, int length)
    {
        _owner = owner;
        _address = (byte*)address;
        _length = length;
        Memory = CreateMemory(length);
    }

    /// <summary>Created once, so slicing a segment allocates nothing.</summary>
    public new ReadOnlyMemory<byte> Memory { get; }

    // Only for the MemoryManager contract. The store never reads mapped bytes in user code (a truncated
    // file would raise SIGBUS); only the kernel does, through Pin() and a socket send.
    public override Span<byte> GetSpan() => new(_address, _length);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        if ((uint)elementIndex > (uint)_length) throw new ArgumentOutOfRangeException(nameof(elementIndex));
        if (!_owner.TryAddReference()) throw new ObjectDisposedException(nameof(MappedPieceStore));
        return new MemoryHandle(_address + elementIndex, default, this);
    }

    /// <summary>A pin for a lease the caller already holds on the owning file (it is released by Unpin).</summary>
    public MemoryHandle PinLeased(int elementIndex) => new(_address + elementIndex, default, this);

    public override void Unpin() => _owner.Release();

    protected override void Dispose(bool disposing)
    {
        // The owning file unmaps; a window has nothing of its own to release.
    }
}
