using Microsoft.Extensions.Logging;

namespace Appliance.Logging;

internal static partial class HostLog
{
    [LoggerMessage(1, LogLevel.Debug, "Started {Component}")]
    public static partial void ComponentStarted(ILogger logger, string component);

    [LoggerMessage(2, LogLevel.Information, "Appliance is serving; SIGINT or SIGTERM stops it")]
    public static partial void Ready(ILogger logger);

    [LoggerMessage(3, LogLevel.Critical, "Start-up failed")]
    public static partial void StartFailed(ILogger logger, Exception exception);

    [LoggerMessage(4, LogLevel.Information, "Stopping")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(5, LogLevel.Debug, "Stopped {Component}")]
    public static partial void ComponentStopped(ILogger logger, string component);

    [LoggerMessage(6, LogLevel.Error, "Stopping {Component} failed")]
    public static partial void StopFailed(ILogger logger, string component, Exception exception);

    [LoggerMessage(7, LogLevel.Warning, "Cannot write resume file {Path}: {Reason}; the torrent keeps seeding and is verified again on the next start")]
    public static partial void ResumeWriteFailed(ILogger logger, string path, string reason);

    [LoggerMessage(8, LogLevel.Warning, "{Count} resume files were not written before the shutdown deadline; those torrents are verified again on the next start")]
    public static partial void ResumeWritesUnflushed(ILogger logger, int count);
}
