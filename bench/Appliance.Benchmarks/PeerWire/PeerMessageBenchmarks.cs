using Appliance.Protocol.PeerWire;
using BenchmarkDotNet.Attributes;

namespace Appliance.Benchmarks.PeerWire;

/// <summary>The pure codec on the hot path: framing and parsing 64 pipelined requests, and writing 64 piece headers. Budget: 0 B/op.</summary>
[MemoryDiagnoser]
public class PeerMessageBenchmarks
{
    private const int Count = 64;
    private readonly byte[] _requests = new byte[Count * PeerMessageWriter.RequestLength];
    private readonly byte[] _headers = new byte[Count * PeerMessageWriter.PieceHeaderLength];

    [GlobalSetup]
    public void Setup()
    {
        for (int i = 0; i < Count; i++)
            PeerMessageWriter.WriteBlockMessage(_requests.AsSpan(i * PeerMessageWriter.RequestLength), PeerMessageId.Request, new BlockRequest(i, 16384, 16384));
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public long ParseRequests()
    {
        ReadOnlySpan<byte> buffer = _requests;
        long sum = 0;
        while (PeerMessageReader.TryReadHeader(buffer, 1 << 20, out var header) == FrameStatus.Complete && header.FrameLength <= buffer.Length)
        {
            if (header.Id == PeerMessageId.Request && BlockRequest.TryParse(buffer.Slice(PeerMessageHeader.PayloadOffset, header.PayloadLength), out var request))
                sum += request.Piece + request.Length;
            buffer = buffer[header.FrameLength..];
        }
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public int FramePieceHeaders()
    {
        int written = 0;
        for (int i = 0; i < Count; i++)
            written += PeerMessageWriter.WritePieceHeader(_headers.AsSpan(i * PeerMessageWriter.PieceHeaderLength), i, 16384, 16384);
        return written;
    }
}
