using System.Net;
using Appliance.Protocol.Metainfo;
using Microsoft.Extensions.Logging;

namespace Appliance.Seeding;

internal static partial class SeedingLog
{
    [LoggerMessage(3001, LogLevel.Information, "Seeding {InfoHash} {Name} (fast resume: {FromResume}, pieces hashed: {PiecesHashed})")]
    public static partial void TorrentLoaded(ILogger logger, InfoHash infoHash, string name, bool fromResume, int piecesHashed);

    [LoggerMessage(3002, LogLevel.Warning, "Refused {TorrentPath}: {Reason}")]
    public static partial void TorrentRefused(ILogger logger, string torrentPath, string reason);

    [LoggerMessage(3003, LogLevel.Information, "Stopped seeding {InfoHash} {Name}")]
    public static partial void TorrentUnloaded(ILogger logger, InfoHash infoHash, string name);

    [LoggerMessage(3004, LogLevel.Information, "Listening for peers on {EndPoint}")]
    public static partial void Listening(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(3005, LogLevel.Debug, "Peer {Remote} disconnected: {Reason}")]
    public static partial void PeerDisconnected(ILogger logger, IPEndPoint remote, string reason);

    [LoggerMessage(3006, LogLevel.Debug, "Refused connection from {Remote}: {Reason} ({Suppressed} more not logged)")]
    public static partial void ConnectionRefused(ILogger logger, IPEndPoint remote, Networking.Tcp.AdmitResult reason, long suppressed);

    [LoggerMessage(3007, LogLevel.Error, "Storage of {InfoHash} {Name} faulted: {Reason}; its peers are disconnected, other torrents keep serving")]
    public static partial void StoreFaulted(ILogger logger, InfoHash infoHash, string name, string reason);

    [LoggerMessage(3008, LogLevel.Error, "Session of {Remote} failed")]
    public static partial void SessionFailed(ILogger logger, IPEndPoint remote, Exception exception);
}
