using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Appliance.Networking.Tcp;

internal static partial class TcpLog
{
    [LoggerMessage(1001, LogLevel.Debug, "Accept failed with {Error}; the peer went away, ignoring")]
    public static partial void AcceptErrorIgnored(ILogger logger, SocketError error);

    [LoggerMessage(1002, LogLevel.Warning, "Accept failed with {Error} (out of descriptors or buffers); backing off {Milliseconds} ms ({Suppressed} more not logged)")]
    public static partial void AcceptBackingOff(ILogger logger, SocketError error, double milliseconds, long suppressed);

    [LoggerMessage(1003, LogLevel.Error, "Accept failed with {Error}; no longer accepting on {EndPoint}")]
    public static partial void AcceptFatal(ILogger logger, SocketError error, IPEndPoint endPoint);

    [LoggerMessage(1004, LogLevel.Error, "Connection handler failed for {Remote}")]
    public static partial void HandlerFailed(ILogger logger, IPEndPoint remote, Exception exception);

    [LoggerMessage(1005, LogLevel.Error, "epoll_wait failed with errno {Errno}; this loop's sockets see no more readiness")]
    public static partial void EpollWaitFailed(ILogger logger, int errno);

    [LoggerMessage(1006, LogLevel.Error, "A continuation failed on an epoll loop thread")]
    public static partial void EpollHandlerFailed(ILogger logger, Exception exception);
}
