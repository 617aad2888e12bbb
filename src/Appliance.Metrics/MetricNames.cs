namespace Appliance.Metrics;

/// <summary>
/// The metric catalogue (docs/metrics.md describes each). Prometheus conventions: appliance_ prefix, base units
/// (bytes, seconds), counters end in _total. Dashboards and alert rules in deploy/ use only these names.
/// </summary>
public static class MetricNames
{
    // Seeding (peer wire)
    public const string UploadedBytes = "appliance_uploaded_bytes_total";
    public const string BlocksServed = "appliance_blocks_served_total";
    public const string RequestsRejected = "appliance_requests_rejected_total";
    public const string PeersConnected = "appliance_peers_connected";
    public const string Handshakes = "appliance_handshakes_total";
    public const string EncryptedHandshakes = "appliance_encrypted_handshakes_total";
    public const string ConnectionsRefused = "appliance_connections_refused_total";
    public const string SendQueueRequests = "appliance_send_queue_requests";
    public const string BlockServeSeconds = "appliance_block_serve_seconds_total";
    public const string BlockServeDuration = "appliance_block_serve_duration_seconds";
    public const string DiskErrors = "appliance_disk_errors_total";
    public const string ConnectionsAccepted = "appliance_connections_accepted_total";
    public const string Disconnects = "appliance_disconnects_total";
    public const string SendBatches = "appliance_send_batches_total";
    public const string SendsStalled = "appliance_sends_stalled_total";
    public const string MetadataPiecesServed = "appliance_metadata_pieces_served_total";
    public const string PeersByInfoHash = "appliance_peers_by_info_hash";
    public const string HashRequests = "appliance_hash_requests_total";
    public const string HashesSent = "appliance_hashes_sent_total";
    public const string HashBytesSent = "appliance_hash_bytes_sent_total";
    public const string HashRejects = "appliance_hash_rejects_total";

    // Torrents
    public const string Torrents = "appliance_torrents";
    public const string VerificationProgress = "appliance_verification_progress_ratio";
    public const string TorrentsVerifying = "appliance_torrents_verifying";

    // Trackers
    public const string TrackerAnnounces = "appliance_tracker_announces_total";
    public const string TrackerAnnouncedTorrents = "appliance_tracker_announced_torrents";
    public const string TrackerScrapes = "appliance_tracker_scrapes_total";
    public const string TrackerScrapedPeers = "appliance_tracker_scraped_peers";
    public const string TrackerScrapedDownloads = "appliance_tracker_scraped_downloads";
    public const string EmbeddedTrackerRequests = "appliance_embedded_tracker_requests_total";
    public const string EmbeddedTrackerSwarms = "appliance_embedded_tracker_swarms";
    public const string EmbeddedTrackerPeers = "appliance_embedded_tracker_peers";

    // DHT
    public const string DhtNodes = "appliance_dht_nodes";
    public const string DhtQueriesReceived = "appliance_dht_queries_received_total";
    public const string DhtQueriesSent = "appliance_dht_queries_sent_total";
    public const string DhtRepliesSent = "appliance_dht_replies_sent_total";
    public const string DhtRepliesReceived = "appliance_dht_replies_received_total";
    public const string DhtDroppedPackets = "appliance_dht_dropped_packets_total";
    public const string DhtPeersStored = "appliance_dht_peers_stored";
    public const string UtpConnections = "appliance_utp_connections";
    public const string UtpConnectionsAccepted = "appliance_utp_connections_accepted_total";
    public const string UtpConnectionsRefused = "appliance_utp_connections_refused_total";
    public const string UtpPackets = "appliance_utp_packets_total";
    public const string UtpSentBytes = "appliance_utp_sent_bytes_total";
    public const string UtpRetransmits = "appliance_utp_retransmits_total";
    public const string UtpTimeouts = "appliance_utp_timeouts_total";
    public const string UtpResets = "appliance_utp_resets_total";
    public const string UtpDroppedPackets = "appliance_utp_dropped_packets_total";
    public const string UtpRtt = "appliance_utp_rtt_seconds";
    public const string RateLimitedPackets = "appliance_rate_limited_packets_total";

    // Web seed (BEP 19, HTTP; only with --web-seed-listen)
    public const string WebSeedSentBytes = "appliance_web_seed_sent_bytes_total";
    public const string WebSeedRequests = "appliance_web_seed_requests_total";
    public const string WebSeedConnections = "appliance_web_seed_connections";
    public const string WebSeedConnectionsAccepted = "appliance_web_seed_connections_accepted_total";
    public const string WebSeedConnectionsRefused = "appliance_web_seed_connections_refused_total";
    public const string WebSeedTimeouts = "appliance_web_seed_timeouts_total";
    public const string WebSeedSendsStalled = "appliance_web_seed_sends_stalled_total";
    public const string WebSeedFileErrors = "appliance_web_seed_file_errors_total";

    // File pool (torrent files opened and mapped on demand)
    public const string FilePoolCapacity = "appliance_file_pool_capacity";
    public const string FilePoolOpen = "appliance_file_pool_open_files";
    public const string FilePoolLookups = "appliance_file_pool_lookups_total";
    public const string FilePoolEvictions = "appliance_file_pool_evictions_total";
    public const string FilePoolOpenFailures = "appliance_file_pool_open_failures_total";

    // Per torrent (only with PerTorrentMetrics > 0, top N by uploaded bytes)
    public const string TorrentUploadedBytes = "appliance_torrent_uploaded_bytes_total";
    public const string TorrentPeersConnected = "appliance_torrent_peers_connected";

    // Process
    public const string ProcessAllocatedBytes = "appliance_process_allocated_bytes_total";
    public const string ProcessGcCollections = "appliance_process_gc_collections_total";
    public const string ProcessGcHeapBytes = "appliance_process_gc_heap_bytes";
    public const string ProcessGcPauseSeconds = "appliance_process_gc_pause_seconds_total";
    public const string ProcessCpuSeconds = "appliance_process_cpu_seconds_total";
    public const string ProcessResidentMemoryBytes = "appliance_process_resident_memory_bytes";
    public const string ProcessAnonymousMemoryBytes = "appliance_process_anonymous_memory_bytes";
    public const string ProcessMappedFileResidentBytes = "appliance_process_mapped_file_resident_bytes";
    public const string ProcessThreads = "appliance_process_threads";
    public const string ProcessThreadPoolThreads = "appliance_process_threadpool_threads";
    public const string ProcessOpenFds = "appliance_process_open_fds";
    public const string ProcessStartTime = "appliance_process_start_time_seconds";

    public const string BuildInfo = "appliance_build_info";
}
