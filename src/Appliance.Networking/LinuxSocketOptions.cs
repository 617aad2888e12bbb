using System.Net.Sockets;

namespace Appliance.Networking;

/// <summary>
/// Socket options set by their Linux numbers, where .NET's named option does something else or has no name:
/// <see cref="SocketOptionName.ReuseAddress"/> sets SO_REUSEPORT too on Linux, and SO_REUSEPORT alone has no name.
/// </summary>
internal static class LinuxSocketOptions
{
    public const int SolSocket = 1;
    public const int SoReuseAddr = 2;
    public const int SoReusePort = 15;

    /// <summary>Turns a boolean SOL_SOCKET option on.</summary>
    public static void Enable(Socket socket, int option) => socket.SetRawSocketOption(SolSocket, option, BitConverter.GetBytes(1));
}
