using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Appliance.LoadGen;

/// <summary>
/// CRC-32C (Castagnoli, as in iSCSI and ext4), the checksum <c>--reference-digests</c> checks every received block with.
/// With the crc32 instruction (SSE 4.2 on x64, CRC on Arm64) it takes 8 bytes per instruction; one dependent chain of
/// those runs at a third of the instruction's throughput (its latency is 3 cycles), so data of at least
/// <see cref="LaneBytes"/> x 3 bytes is taken as three lanes in flight at once and their CRCs are joined with a shift
/// table, which keeps the unit busy every cycle: about a third of the time per 16 KiB block (BlockDigestBenchmarks has
/// both). The portable path (a byte table) is for machines without the instruction and for testing the others.
/// </summary>
public static class Crc32C
{
    // Reflected Castagnoli polynomial.
    private const uint Polynomial = 0x82F63B78;

    /// <summary>Bytes per lane: 680 words, so a 16 KiB block is one round of three lanes and a 64-byte tail.</summary>
    public const int LaneBytes = 680 * 8;

    private static readonly uint[] ByteTable = MakeByteTable();
    // Appending LaneBytes and 2 x LaneBytes zero bytes to a raw CRC state, as 4 x 256 lookups each (it is linear in the state).
    private static readonly uint[] ShiftOne = MakeShiftTable(LaneBytes);
    private static readonly uint[] ShiftTwo = MakeShiftTable(2 * LaneBytes);

    public static bool IsHardwareAccelerated => Sse42.X64.IsSupported || Crc32.Arm64.IsSupported;

    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(~0u, data);

    /// <summary>The raw CRC state after <paramref name="data"/> (no pre- or post-inversion).</summary>
    public static uint Append(uint state, ReadOnlySpan<byte> data)
    {
        if (!IsHardwareAccelerated) return AppendPortable(state, data);
        while (data.Length >= 3 * LaneBytes)
        {
            state = ThreeLanes(state, data[..(3 * LaneBytes)]);
            data = data[(3 * LaneBytes)..];
        }
        return AppendHardware(state, data);
    }

    /// <summary>Byte at a time through a table: the reference the hardware paths are tested against.</summary>
    public static uint AppendPortable(uint state, ReadOnlySpan<byte> data)
    {
        var table = ByteTable;
        foreach (var b in data) state = table[(byte)(state ^ b)] ^ (state >> 8);
        return state;
    }

    /// <summary>One chain of 8-byte steps, without the lanes (the portable path where there is no instruction).</summary>
    public static uint AppendHardware(uint state, ReadOnlySpan<byte> data)
    {
        if (!IsHardwareAccelerated) return AppendPortable(state, data);
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var word in words) state = Step(state, word);
        foreach (var b in data[(words.Length * 8)..]) state = Step(state, b);
        return state;
    }

    private static uint ThreeLanes(uint state, ReadOnlySpan<byte> data)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        const int LaneWords = LaneBytes / 8;
        uint a = state, b = 0, c = 0;
        ref var first = ref MemoryMarshal.GetReference(words);
        for (var i = 0; i < LaneWords; i++)
        {
            a = Step(a, Unsafe.Add(ref first, i));
            b = Step(b, Unsafe.Add(ref first, LaneWords + i));
            c = Step(c, Unsafe.Add(ref first, 2 * LaneWords + i));
        }
        // state(A || B || C) = shift(a, |B| + |C|) ^ shift(b, |C|) ^ c, b and c having started from 0.
        return Shift(ShiftTwo, a) ^ Shift(ShiftOne, b) ^ c;
    }

    private static uint Step(uint state, ulong word) =>
        Sse42.X64.IsSupported ? (uint)Sse42.X64.Crc32(state, word) : Crc32.Arm64.ComputeCrc32C(state, word);

    private static uint Step(uint state, byte value) =>
        Sse42.IsSupported ? Sse42.Crc32(state, value) : Crc32.ComputeCrc32C(state, value);

    private static uint Shift(uint[] table, uint state) =>
        table[(byte)state] ^ table[256 + (byte)(state >> 8)] ^ table[512 + (byte)(state >> 16)] ^ table[768 + (state >> 24)];

    private static uint[] MakeByteTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var crc = i;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ Polynomial : crc >> 1;
            table[i] = crc;
        }
        return table;
    }

    private static uint[] MakeShiftTable(int zeroBytes)
    {
        // The shift of each single-bit state, then every byte value of each of the four state bytes as XORs of those.
        Span<uint> ofBit = stackalloc uint[32];
        var zeros = new byte[zeroBytes];
        for (var bit = 0; bit < 32; bit++) ofBit[bit] = AppendPortable(1u << bit, zeros);
        var table = new uint[4 * 256];
        for (var lane = 0; lane < 4; lane++)
        {
            for (var value = 1; value < 256; value++)
            {
                uint shifted = 0;
                for (var bit = 0; bit < 8; bit++)
                    if ((value & (1 << bit)) != 0) shifted ^= ofBit[lane * 8 + bit];
                table[lane * 256 + value] = shifted;
            }
        }
        return table;
    }
}
