using Appliance.LoadGen;
using BenchmarkDotNet.Attributes;

namespace Appliance.Benchmarks.LoadGen;

/// <summary>
/// What LoadGen's <c>--reference-digests</c> costs the client per received 16 KiB block: its CRC-32C, three lanes of the
/// crc32 instruction joined by a shift table, beside one chain of the same instruction (bound by its 3-cycle latency).
/// The aim is well over 5 GB/s per core, so that the client stays a small share of a 2-core box. Budget: 0 B/op.
/// </summary>
[MemoryDiagnoser]
public class BlockDigestBenchmarks
{
    private readonly byte[] _block = new byte[LoadOptions.BlockLength];

    [GlobalSetup]
    public void Setup() => new Random(15).NextBytes(_block);

    [Benchmark]
    public uint Crc32CBlock() => Crc32C.Compute(_block);

    [Benchmark]
    public uint Crc32COneChain() => ~Crc32C.AppendHardware(~0u, _block);
}
