using System.Net;
using Microsoft.Extensions.Logging;

namespace Appliance.Networking.Udp;

internal static partial class UdpLog
{
    [LoggerMessage(1301, LogLevel.Warning, "UDP receive on {EndPoint} stopped: {Reason}")]
    public static partial void ReceiveFailed(ILogger logger, IPEndPoint endPoint, string reason);

    [LoggerMessage(1302, LogLevel.Warning, "A datagram on {EndPoint} failed: {Reason}")]
    public static partial void DatagramFailed(ILogger logger, IPEndPoint endPoint, string reason);
}
