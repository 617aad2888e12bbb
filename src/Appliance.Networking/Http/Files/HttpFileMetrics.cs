using Appliance.Metrics.Export;

namespace Appliance.Networking.Http.Files;

/// <summary>The web seed's part of the metric catalogue (docs/metrics.md): its HTTP traffic, apart from the peer-wire metrics.</summary>
public static class HttpFileMetrics
{
    public const string WebSeedSentBytes = "appliance_web_seed_sent_bytes_total";
    public const string WebSeedRequests = "appliance_web_seed_requests_total";
    public const string WebSeedConnections = "appliance_web_seed_connections";
    public const string WebSeedConnectionsAccepted = "appliance_web_seed_connections_accepted_total";
    public const string WebSeedConnectionsRefused = "appliance_web_seed_connections_refused_total";
    public const string WebSeedTimeouts = "appliance_web_seed_timeouts_total";
    public const string WebSeedSendsStalled = "appliance_web_seed_sends_stalled_total";
    public const string WebSeedFileErrors = "appliance_web_seed_file_errors_total";

    public static void Register(MetricsExporter e, HttpFileCounters counters)
    {
        e.AddCounter(WebSeedSentBytes, "File bytes sent to web seed (HTTP) clients", counters, HttpFileCounter.BodyBytesSent);
        e.AddCounter(WebSeedRequests, "Web seed responses by status class", "status", counters.Responses,
            ("2xx", HttpStatusClass.Success),
            ("3xx", HttpStatusClass.Redirection),
            ("4xx", HttpStatusClass.ClientError),
            ("5xx", HttpStatusClass.ServerError));
        e.AddGauge(WebSeedConnections, "Web seed connections open now", counters, HttpFileCounter.Connections);
        e.AddCounter(WebSeedConnectionsAccepted, "Web seed connections accepted", counters, HttpFileCounter.ConnectionsAccepted);
        e.AddCounter(WebSeedConnectionsRefused, "Web seed connections turned away by a limit", "limit", counters,
            ("total", HttpFileCounter.RefusedTotalLimit),
            ("per_ip", HttpFileCounter.RefusedAddressLimit));
        e.AddCounter(WebSeedTimeouts, "Web seed connections closed by a deadline, by phase", "phase", counters.Timeouts,
            ("idle", HttpFileTimeout.Idle),
            ("head", HttpFileTimeout.Head),
            ("send", HttpFileTimeout.Send));
        e.AddCounter(WebSeedSendsStalled, "Times a web seed response found the client's socket buffer full and waited for room",
            counters, HttpFileCounter.SendsStalled);
        e.AddCounter(WebSeedFileErrors, "Files that ended before their size while served (the torrent is then faulted)", counters, HttpFileCounter.FileErrors);
    }
}
