using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Appliance.Networking.Tcp;

/// <summary>
/// How far the peer has taken what we sent: the bytes it has acknowledged so far, and whether sent bytes still wait on
/// our side (unacknowledged, or not yet sent because its window is closed). A peer that stops reading stops
/// acknowledging, so this tells it from one that reads even when our sends never have to wait. For TCP it comes from the
/// kernel (<see cref="TryRead"/>): a completed send only means the kernel took the bytes, and a socket buffer of
/// megabytes holds many blocks; a uTP connection keeps its own (<c>UtpConnection.SendProgress</c>).
/// </summary>
public readonly record struct SendProgress(long Acknowledged, bool Pending)
{
    private const int IpProtoTcp = 6;
    private const int TcpInfoOption = 11;

    // struct tcp_info (linux/tcp.h): tcpi_unacked (segments) at 24, tcpi_bytes_acked at 120 (Linux 4.1),
    // tcpi_notsent_bytes at 144 (Linux 4.6). A kernel copies at most the length asked for and says how much it filled.
    private const int UnackedOffset = 24;
    private const int BytesAckedOffset = 120;
    private const int NotSentOffset = 144;
    private const int InfoLength = 152;

    /// <summary>Reads the socket's TCP_INFO (one getsockopt, no allocation); false off Linux, on an older kernel or a closed socket.</summary>
    public static bool TryRead(Socket socket, out SendProgress progress)
    {
        progress = default;
        if (!OperatingSystem.IsLinux()) return false;
        Span<byte> info = stackalloc byte[InfoLength];
        int length;
        try
        {
            length = socket.GetRawSocketOption(IpProtoTcp, TcpInfoOption, info);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        if (length < InfoLength) return false;
        uint unackedSegments = MemoryMarshal.Read<uint>(info[UnackedOffset..]);
        ulong acknowledged = MemoryMarshal.Read<ulong>(info[BytesAckedOffset..]);
        uint notSent = MemoryMarshal.Read<uint>(info[NotSentOffset..]);
        progress = new SendProgress((long)acknowledged, unackedSegments > 0 || notSent > 0);
        return true;
    }
}
