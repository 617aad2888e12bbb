using Appliance.Networking.Utp;

namespace Appliance.Fuzz.Utp;

/// <summary>
/// The uTP packet decoder (<see cref="UtpHeader.TryParse"/>): header, extension chain, selective-ACK bitmask. A packet
/// it accepts must also pass the demultiplexer's quick check, lie within the datagram, and survive a write and re-read.
/// </summary>
public static class UtpHeaderTarget
{
    public static void Fuzz(ReadOnlySpan<byte> data)
    {
        bool looksLikeUtp = UtpHeader.LooksLikeUtp(data);
        if (!UtpHeader.TryParse(data, out var header, out int payloadOffset, out var sack)) return;
        if (!looksLikeUtp) throw new InvalidOperationException("parsed a packet the demultiplexer would not take for uTP");
        if (payloadOffset < UtpHeader.Length || payloadOffset > data.Length) throw new InvalidOperationException($"payload at {payloadOffset} of {data.Length}");
        for (int i = 0; i < sack.Length * 8; i++) _ = UtpHeader.SackBit(sack, i);
        Span<byte> written = stackalloc byte[UtpHeader.Length];
        header.WriteTo(written);
        if (!UtpHeader.TryParse(written, out var again, out _, out _) || again != header) throw new InvalidOperationException("header does not survive a write and re-read");
    }
}
