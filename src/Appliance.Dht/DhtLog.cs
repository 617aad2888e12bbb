using Microsoft.Extensions.Logging;

namespace Appliance.Dht;

internal static partial class DhtLog
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "DHT node {Id} listening on UDP {EndPoint}")]
    public static partial void Started(ILogger logger, string id, string endPoint);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "DHT external address is {Address}; node id changed to {Id} (BEP 42)")]
    public static partial void IdChanged(ILogger logger, string address, string id);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "DHT bootstrap finished: {Nodes} nodes in the routing table after {Queries} queries")]
    public static partial void Bootstrapped(ILogger logger, int nodes, int queries);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Warning, Message = "DHT state file {Path} could not be read, starting empty: {Reason}")]
    public static partial void StateUnreadable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Warning, Message = "DHT state file {Path} could not be written: {Reason}")]
    public static partial void StateNotSaved(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Warning, Message = "DHT UDP receive failed: {Reason}")]
    public static partial void ReceiveFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Debug, Message = "DHT announced {InfoHash}: {Acks} nodes accepted, {Peers} peers seen")]
    public static partial void Announced(ILogger logger, string infoHash, int acks, int peers);

    [LoggerMessage(EventId = 5008, Level = LogLevel.Debug, Message = "DHT could not send to {Destination}: {Reason}")]
    public static partial void SendFailed(ILogger logger, string destination, string reason);

    [LoggerMessage(EventId = 5010, Level = LogLevel.Warning, Message = "DHT datagram from {Source} dropped after an internal error: {Reason}")]
    public static partial void DatagramFailed(ILogger logger, string source, string reason);

    [LoggerMessage(EventId = 5009, Level = LogLevel.Warning, Message = "DHT bootstrap host {Host} could not be resolved: {Reason}")]
    public static partial void BootstrapUnresolved(ILogger logger, string host, string reason);
}
