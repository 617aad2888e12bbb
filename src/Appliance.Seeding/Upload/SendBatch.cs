using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Appliance.Networking.Buffers;
using Appliance.Networking.Tcp;
using Appliance.Protocol.PeerWire;
using Appliance.Storage;

namespace Appliance.Seeding.Upload;

/// <summary>
/// One gather send to one peer: pending control bytes (the outbox) plus up to <see cref="MaxBlocks"/> piece messages,
/// each a 13-byte header from <see cref="_headers"/> followed by the block's segments. With the mapped store the
/// segments are the mapping itself (pinned, handed to the kernel, never read by us); with the pread store the blocks
/// are read into a pooled buffer first. Everything here is pooled: a batch is rented per send and returned after.
/// </summary>
internal sealed class SendBatch
{
    /// <summary>
    /// Blocks one send carries at most, whatever the number of peers. Cutting batches to 16 blocks past 128 unchoked
    /// peers (for block latency) was measured to cost 12-25% of the bytes per CPU-second at 512 and 2,000 peers while
    /// completion times stayed fair with 60 (slowest peer within 1.2x of the median at 2,000, 1.6x at 10,000;
    /// perf-reports/2026-12-03-epoll-batches.md), so every send may carry 60.
    /// </summary>
    public const int MaxBlocks = 60;

    private readonly byte[] _headers;
    private readonly IoVector[] _vectors;
    private readonly ReadOnlyMemory<byte>[] _parts;
    private readonly MemoryHandle[] _pins;
    private readonly BlockSegment[] _segments = new BlockSegment[PieceStore.MaxSegmentsPerBlock];
    private readonly QueuedRequest[] _requests;
    private int _vectorCount;
    private int _pinCount;
    // MaxBlocks blocks of at most 128 KiB each fit in 30 read buffers of 256 KiB.
    private readonly byte[][] _readBuffers = new byte[32][];
    private int _readBufferCount;
    private int _readOffset;
    private PinnedBufferPool? _readPool;

    /// <summary>
    /// A batch for up to <paramref name="maxBlocks"/> blocks. Its vectors have room for the outbox, a header and two
    /// segments per block (a block crossing one file boundary), and one block's worst case
    /// (<see cref="PieceStore.MaxSegmentsPerBlock"/> files) on top; a block that would not fit is read into a buffer
    /// instead (one vector), as a block over more files than that always is. Sized for the common case, not the worst
    /// for every block: a batch is held for as long as its send waits, and thousands of peers can wait at once.
    /// </summary>
    public SendBatch(int maxBlocks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBlocks, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBlocks, MaxBlocks);
        int vectors = VectorCapacityFor(maxBlocks);
        _headers = GC.AllocateUninitializedArray<byte>(maxBlocks * PeerMessageWriter.PieceHeaderLength, pinned: true);
        _vectors = new IoVector[vectors];
        _parts = new ReadOnlyMemory<byte>[vectors];
        _pins = new MemoryHandle[vectors];
        _requests = new QueuedRequest[maxBlocks];
    }

    public SendBatch() : this(MaxBlocks) { }

    /// <summary>Vectors of a batch of <paramref name="maxBlocks"/> blocks (well under Linux IOV_MAX, 1024).</summary>
    public static int VectorCapacityFor(int maxBlocks) => 1 + 3 * maxBlocks + PieceStore.MaxSegmentsPerBlock;

    /// <summary>The most blocks this batch carries.</summary>
    public int BlockCapacity => _requests.Length;

    public int RequestCount { get; private set; }
    public byte[]? Outbox { get; private set; }
    public int OutboxLength { get; private set; }

    /// <summary>Block bytes (what counts as uploaded).</summary>
    public long PayloadBytes { get; private set; }

    /// <summary>Everything on the wire: control bytes, headers and blocks.</summary>
    public long TotalBytes { get; private set; }

    public int VectorCount => _vectorCount;
    public bool IsEmpty => RequestCount == 0 && OutboxLength == 0;
    public ReadOnlySpan<QueuedRequest> Requests => _requests.AsSpan(0, RequestCount);

    public void SetOutbox(byte[] outbox, int length)
    {
        Outbox = outbox;
        OutboxLength = length;
    }

    /// <summary>Whether one more request fits (block count, and for the pread store, the read buffer).</summary>
    public bool CanAdd(int blockLength, int readBufferSize) =>
        RequestCount < _requests.Length && (readBufferSize == 0 || PayloadBytes + blockLength <= readBufferSize);

    public void Add(QueuedRequest request)
    {
        _requests[RequestCount++] = request;
        PayloadBytes += request.Block.Length;
    }

    /// <summary>
    /// Turns the outbox and requests into vectors. False when the store cannot produce a block (faulted or changed):
    /// the caller disconnects; the store has recorded why. A mapped store serves segments; a block it will not give as
    /// segments (more than <see cref="PieceStore.MaxSegmentsPerBlock"/> tiny files) is read like the pread store does.
    /// </summary>
    /// <param name="copyBlocks">
    /// For transports that touch the bytes themselves (uTP, encryption): every block is read with pread into the pooled
    /// read buffers, never taken as segments of the mapping, so user code never reads mapped pages.
    /// </param>
    public bool Prepare(PieceStore store, PinnedBufferPool readPool, bool copyBlocks = false)
    {
        _vectorCount = 0;
        _sendIndex = 0;
        _sendOffset = 0;
        TotalBytes = 0;
        _readPool = readPool;
        if (OutboxLength > 0) AddVector(Outbox.AsMemory(0, OutboxLength), PinnedAddress(Outbox!, 0));

        bool mapped = store.SupportsSegments && !copyBlocks;
        for (int i = 0; i < RequestCount; i++)
        {
            var block = _requests[i].Block;
            int headerOffset = i * PeerMessageWriter.PieceHeaderLength;
            PeerMessageWriter.WritePieceHeader(_headers.AsSpan(headerOffset), block.Piece, block.Begin, block.Length);
            AddVector(_headers.AsMemory(headerOffset, PeerMessageWriter.PieceHeaderLength), PinnedAddress(_headers, headerOffset));
            // Pinned as they are found: a file the shared pool evicts meanwhile stays mapped until this send is done.
            if (mapped && HasRoomForSegments(i) && store.TryPinSegments(block.Piece, block.Begin, block.Length, _segments, _pins.AsSpan(_pinCount), out int count))
            {
                for (int s = 0; s < count; s++)
                {
                    unsafe { AddVector(_segments[s].Memory, (nint)_pins[_pinCount + s].Pointer); }
                }
                _pinCount += count;
                continue;
            }
            if (store.IsFaulted) return false;
            var destination = ReadSpace(block.Length, out nint address);
            if (!store.TryReadBlock(block.Piece, block.Begin, destination.Span)) return false;
            AddVector(destination, address);
        }
        return true;
    }

    // Called after block i's header: its segments may take up to MaxSegmentsPerBlock vectors and still leave two (a
    // header and a read buffer) for each block after it.
    private bool HasRoomForSegments(int block) =>
        _vectorCount + PieceStore.MaxSegmentsPerBlock + 2 * (RequestCount - block - 1) <= _vectors.Length;

    /// <summary>Turns the outbox alone into the batch's one vector (bytes sent outside the peer-wire stream: handshakes).</summary>
    public void PrepareControl()
    {
        _vectorCount = 0;
        _sendIndex = 0;
        _sendOffset = 0;
        TotalBytes = 0;
        if (OutboxLength > 0) AddVector(Outbox.AsMemory(0, OutboxLength), PinnedAddress(Outbox!, 0));
    }

    /// <summary>Room for one block in the pooled read buffers (a batch fits in a few; TakeBatch bounds pread batches to one).</summary>
    private Memory<byte> ReadSpace(int length, out nint address)
    {
        if (_readBufferCount == 0 || _readPool!.BufferSize - _readOffset < length)
        {
            _readBuffers[_readBufferCount++] = _readPool!.Rent();
            _readOffset = 0;
        }
        var buffer = _readBuffers[_readBufferCount - 1];
        address = PinnedAddress(buffer, _readOffset);
        var memory = buffer.AsMemory(_readOffset, length);
        _readOffset += length;
        return memory;
    }

    // Progress through the vectors: _sendIndex is the first not fully sent, _sendOffset the bytes of it already sent.
    private int _sendIndex;
    private int _sendOffset;

    public bool IsSent => _sendIndex == _vectorCount;

    /// <summary>The prepared bytes in order (outbox, then header and block of each piece), for transports that copy them.</summary>
    public ReadOnlySpan<ReadOnlyMemory<byte>> Parts => _parts.AsSpan(0, _vectorCount);

    /// <summary>
    /// One non-blocking sendmsg of everything not yet sent; as much goes as the socket buffer takes. When the peer is
    /// slower than us the caller awaits <see cref="Remainder"/> (this stalls only this peer's send loop), calls
    /// <see cref="RemainderSent"/>, and comes back here. The send path is split this way, not one async method,
    /// because an async helper per batch costs a state-machine box whenever it suspends; the session's long-lived
    /// send loop owns the only await.
    /// </summary>
    public SendOutcome TrySendGathered(Socket socket)
    {
        if (!GatherSend.IsSupported || IsSent) return SendOutcome.Sent;
        var status = GatherSend.TrySend(socket, _vectors.AsSpan(_sendIndex, _vectorCount - _sendIndex), out long sent);
        if (status == GatherSendStatus.BadAddress) return SendOutcome.BadAddress;
        if (status == GatherSendStatus.Failed) return SendOutcome.Failed;
        Advance(sent);
        return SendOutcome.Sent;
    }

    /// <summary>What is left of the vector the gather send stopped in.</summary>
    public ReadOnlyMemory<byte> Remainder => _parts[_sendIndex][_sendOffset..];

    public void RemainderSent()
    {
        _sendIndex++;
        _sendOffset = 0;
    }

    /// <summary>Unpins, hands buffers back, and forgets the block memory so the batch holds no reference into a store.</summary>
    public void Reset(PinnedBufferPool outboxPool)
    {
        for (int i = 0; i < _pinCount; i++) _pins[i].Dispose();
        _pinCount = 0;
        _parts.AsSpan(0, _vectorCount).Clear();
        _vectorCount = 0;
        _sendIndex = 0;
        _sendOffset = 0;
        if (Outbox is not null && Outbox.Length == outboxPool.BufferSize) outboxPool.Return(Outbox);
        Outbox = null;
        OutboxLength = 0;
        for (int i = 0; i < _readBufferCount; i++)
        {
            _readPool!.Return(_readBuffers[i]);
            _readBuffers[i] = null!;
        }
        _readBufferCount = 0;
        _readOffset = 0;
        RequestCount = 0;
        PayloadBytes = 0;
        TotalBytes = 0;
    }

    private void Advance(long sent)
    {
        while (sent > 0)
        {
            long left = (long)_vectors[_sendIndex].Length;
            if (sent < left)
            {
                _vectors[_sendIndex].Base += (nint)sent;
                _vectors[_sendIndex].Length -= (nuint)sent;
                _sendOffset += (int)sent;
                return;
            }
            sent -= left;
            _sendIndex++;
            _sendOffset = 0;
        }
    }

    private void AddVector(ReadOnlyMemory<byte> memory, nint address)
    {
        _parts[_vectorCount] = memory;
        _vectors[_vectorCount] = new IoVector(address, memory.Length);
        _vectorCount++;
        TotalBytes += memory.Length;
    }

    // Only for arrays on the pinned object heap: their address never changes.
    private static unsafe nint PinnedAddress(byte[] pinnedArray, int offset) =>
        (nint)Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(pinnedArray), offset));
}

internal enum SendOutcome : byte
{
    Sent,
    Failed,

    /// <summary>The kernel could not read a block's memory: the mapped file changed under us.</summary>
    BadAddress,
}
