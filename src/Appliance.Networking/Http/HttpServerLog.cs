using System.Net;
using Microsoft.Extensions.Logging;

namespace Appliance.Networking.Http;

internal static partial class HttpServerLog
{
    [LoggerMessage(EventId = 2501, Level = LogLevel.Information, Message = "HTTP server '{Name}' listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, string name, EndPoint endPoint);

    [LoggerMessage(EventId = 2502, Level = LogLevel.Warning, Message = "HTTP server '{Name}': handler for {Method} {Path} failed")]
    public static partial void HandlerFailed(ILogger logger, string name, string method, string path, Exception exception);

    [LoggerMessage(EventId = 2503, Level = LogLevel.Debug, Message = "HTTP server '{Name}': refused request from {Remote} with {Status} ({Suppressed} more not logged)")]
    public static partial void Refused(ILogger logger, string name, EndPoint remote, int status, long suppressed);

    [LoggerMessage(EventId = 2504, Level = LogLevel.Warning, Message = "HTTP server '{Name}': connection limit {Limit} reached, closing new connection ({Suppressed} more not logged)")]
    public static partial void ConnectionLimit(ILogger logger, string name, int limit, long suppressed);

    [LoggerMessage(EventId = 2506, Level = LogLevel.Warning, Message = "HTTP server '{Name}': {Address} already holds {Limit} connections, closing its new one ({Suppressed} more not logged)")]
    public static partial void AddressLimit(ILogger logger, string name, IPAddress address, int limit, long suppressed);
}
