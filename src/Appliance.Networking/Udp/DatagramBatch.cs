using System.Net;
using System.Runtime.InteropServices;

namespace Appliance.Networking.Udp;

/// <summary>
/// Datagrams to several destinations, written in place and sent together with one <c>sendmmsg</c>
/// (<see cref="DatagramEndpoint.Send(DatagramBatch)"/>): the replies to one received batch leave in one system call.
/// Payloads and destination addresses live in pinned arrays made once; adding a datagram allocates nothing.
/// Used by one thread at a time.
/// </summary>
public sealed class DatagramBatch
{
    /// <summary>sockaddr_storage: room for any destination address.</summary>
    internal const int NameSize = 128;

    private readonly byte[] _data;
    private readonly byte[] _names;
    private readonly int[] _lengths;
    private readonly int[] _nameLengths;

    public DatagramBatch(int capacity, int maxDatagram)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDatagram, 1);
        Capacity = capacity;
        MaxDatagram = maxDatagram;
        _data = GC.AllocateUninitializedArray<byte>(capacity * maxDatagram, pinned: true);
        _names = GC.AllocateArray<byte>(capacity * NameSize, pinned: true);
        _lengths = new int[capacity];
        _nameLengths = new int[capacity];
    }

    public int Capacity { get; }
    public int MaxDatagram { get; }
    public int Count { get; private set; }
    public bool IsFull => Count == Capacity;

    /// <summary>Where the next datagram is written before <see cref="Add"/> takes it.</summary>
    public Span<byte> Next => IsFull ? throw new InvalidOperationException("the batch is full") : _data.AsSpan(Count * MaxDatagram, MaxDatagram);

    /// <summary>Takes the first <paramref name="length"/> bytes written to <see cref="Next"/>, for <paramref name="destination"/>.</summary>
    public void Add(int length, SocketAddress destination)
    {
        if (IsFull) throw new InvalidOperationException("the batch is full");
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)length, (uint)MaxDatagram, nameof(length));
        if (destination.Size > NameSize) throw new ArgumentException("address too long", nameof(destination));
        destination.Buffer.Span[..destination.Size].CopyTo(_names.AsSpan(Count * NameSize, NameSize));
        _lengths[Count] = length;
        _nameLengths[Count] = destination.Size;
        Count++;
    }

    public void Clear() => Count = 0;

    internal ReadOnlySpan<byte> Datagram(int index) => _data.AsSpan(index * MaxDatagram, _lengths[index]);

    internal ReadOnlySpan<byte> Destination(int index) => _names.AsSpan(index * NameSize, _nameLengths[index]);

    internal ref byte DataStart => ref MemoryMarshal.GetArrayDataReference(_data);

    internal ref byte NamesStart => ref MemoryMarshal.GetArrayDataReference(_names);

    internal int Length(int index) => _lengths[index];

    internal int NameLength(int index) => _nameLengths[index];
}
