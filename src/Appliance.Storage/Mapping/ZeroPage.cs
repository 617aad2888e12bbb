using System.Buffers;
using System.Runtime.InteropServices;
using Appliance.Storage.Files;

namespace Appliance.Storage.Mapping;

/// <summary>
/// The bytes of every pad file (BEP 47): one read-only anonymous mapping, so every page of it is the kernel's shared
/// zero page (no memory of its own, no disk). Like the file mappings, only the kernel reads it, in sendmsg. Never
/// unmapped; pinning is free.
/// </summary>
internal sealed unsafe class ZeroPage : MemoryManager<byte>
{
    /// <summary>Large enough for any block (requests are capped far below); longer pad runs take several segments.</summary>
    public const int Length = 1 << 20;

    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;

    private static readonly ZeroPage Instance = new();

    private readonly byte* _address;

    private ZeroPage()
    {
        nint address = Libc.mmap(0, Length, Libc.ProtRead, MapPrivate | MapAnonymous, -1, 0);
        if (address == Libc.MapFailed) throw new IOException($"cannot map the zero page: errno {Marshal.GetLastPInvokeError()}");
        _address = (byte*)address;
        ZeroMemory = CreateMemory(Length);
    }

    public static ReadOnlyMemory<byte> Zeros => Instance.ZeroMemory;

    private ReadOnlyMemory<byte> ZeroMemory { get; }

    public override Span<byte> GetSpan() => new(_address, Length);

    public override MemoryHandle Pin(int elementIndex = 0)
    {
        if ((uint)elementIndex > Length) throw new ArgumentOutOfRangeException(nameof(elementIndex));
        return new MemoryHandle(_address + elementIndex);
    }

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}
