using System.Net;
using Microsoft.Extensions.Logging;

namespace Appliance.Networking.Http.Files;

internal static partial class HttpFileLog
{
    [LoggerMessage(EventId = 2601, Level = LogLevel.Information, Message = "HTTP file server '{Name}' listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, string name, EndPoint endPoint);

    [LoggerMessage(EventId = 2602, Level = LogLevel.Warning, Message = "HTTP file server '{Name}': refused a connection from {Remote}: {Reason} ({Suppressed} more not logged)")]
    public static partial void Refused(ILogger logger, string name, EndPoint remote, string reason, long suppressed);

    [LoggerMessage(EventId = 2603, Level = LogLevel.Warning, Message = "HTTP file server '{Name}': a file ended early while serving {Remote}: {Reason}")]
    public static partial void FileFailed(ILogger logger, string name, EndPoint remote, string reason);

    [LoggerMessage(EventId = 2605, Level = LogLevel.Error, Message = "HTTP file server '{Name}': serving {Remote} failed")]
    public static partial void ConnectionFailed(ILogger logger, string name, EndPoint remote, Exception exception);

    [LoggerMessage(EventId = 2604, Level = LogLevel.Debug, Message = "HTTP file server '{Name}': closed {Remote}: {Reason}")]
    public static partial void Closed(ILogger logger, string name, EndPoint remote, string reason);
}
