using System.Net;
using Microsoft.Extensions.Logging;

namespace Appliance.Networking.Http.Inline;

internal static partial class InlineHttpLog
{
    [LoggerMessage(EventId = 2611, Level = LogLevel.Information, Message = "HTTP server '{Name}' listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, string name, EndPoint endPoint);

    [LoggerMessage(EventId = 2612, Level = LogLevel.Warning, Message = "HTTP server '{Name}': refused a connection from {Remote}: {Reason} ({Suppressed} more not logged)")]
    public static partial void Refused(ILogger logger, string name, EndPoint remote, string reason, long suppressed);

    [LoggerMessage(EventId = 2613, Level = LogLevel.Error, Message = "HTTP server '{Name}': serving {Remote} failed")]
    public static partial void ConnectionFailed(ILogger logger, string name, EndPoint remote, Exception exception);

    [LoggerMessage(EventId = 2614, Level = LogLevel.Debug, Message = "HTTP server '{Name}': closed {Remote}: {Reason}")]
    public static partial void Closed(ILogger logger, string name, EndPoint remote, string reason);
}
