using Appliance.Metrics.Export;
using Appliance.Seeding.Encryption;
using Appliance.Seeding.Torrents;

namespace Appliance.Seeding;

/// <summary>
/// The seeder's part of the metric catalogue (docs/metrics.md describes each): peer-wire counters, MSE/PE outcomes,
/// torrents by state and, when asked, the top torrents. Dashboards and alert rules in deploy/ query these names.
/// </summary>
public static class SeedingMetrics
{
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
    public const string Torrents = "appliance_torrents";
    public const string ReadAheads = "appliance_read_ahead_total";
    public const string ReadAheadBytes = "appliance_read_ahead_bytes_total";
    public const string ReadAheadWait = "appliance_read_ahead_wait_seconds";
    public const string SendMajorFaults = "appliance_send_major_faults_total";

    // Per torrent (only with PerTorrentMetrics > 0, top N by uploaded bytes)
    public const string TorrentUploadedBytes = "appliance_torrent_uploaded_bytes_total";
    public const string TorrentPeersConnected = "appliance_torrent_peers_connected";

    public static void Register(MetricsExporter e, SeedingCounters counters)
    {
        e.AddCounter(UploadedBytes, "Payload bytes of blocks sent to peers", counters, SeedingCounter.BytesUploaded);
        e.AddCounter(BlocksServed, "Blocks (piece messages) sent to peers", counters, SeedingCounter.BlocksServed);
        e.AddCounter(BlockServeSeconds, "Sum over served blocks of the time from request arrival to send completion; divide by blocks served for the mean",
            () => (double)counters.Read(SeedingCounter.BlockServeTicks) / System.Diagnostics.Stopwatch.Frequency);
        e.AddHistogram(BlockServeDuration, "Time from a request arriving to its block's send completing", counters.ServeLatency);
        e.AddCounter(DiskErrors, "Reads or sends of torrent data that failed (the torrent is then faulted)", counters, SeedingCounter.DiskErrors);
        e.AddCounter(SendBatches, "Gather sends of queued blocks; blocks served over this is the average batch", counters, SeedingCounter.BatchesSent);
        e.AddCounter(SendsStalled, "Batches that found the peer's socket buffer full and waited for it (back-pressure from slow peers)",
            counters, SeedingCounter.SendsWouldBlock);
        e.AddCounter(MetadataPiecesServed, "BEP 9 metadata pieces sent to peers that joined by magnet link", counters, SeedingCounter.MetadataPiecesServed);
        e.AddCounter(RequestsRejected, "Peer requests refused, by reason", "reason", counters.Rejected, Label);
        e.AddGauge(PeersConnected, "Peer connections open now", counters, SeedingCounter.PeersConnected);
        e.AddCounter(ConnectionsAccepted, "Peer connections accepted", counters, SeedingCounter.ConnectionsAccepted);
        e.AddCounter(Handshakes, "Incoming handshakes by outcome", "result", counters,
            ("accepted", SeedingCounter.HandshakesAccepted),
            ("unknown_torrent", SeedingCounter.HandshakesUnknownTorrent),
            ("invalid", SeedingCounter.HandshakesInvalid),
            ("timeout", SeedingCounter.HandshakesTimedOut),
            ("held", SeedingCounter.HandshakesHeld));
        e.AddCounter(ConnectionsRefused, "Connections turned away by a limit", "limit", counters,
            ("total", SeedingCounter.ConnectionsRefusedTotalLimit),
            ("per_ip", SeedingCounter.ConnectionsRefusedAddressLimit));
        e.AddCounter(Disconnects, "Peers disconnected by the appliance, by reason", "reason", counters,
            ("protocol_error", SeedingCounter.DisconnectsProtocolError),
            ("idle", SeedingCounter.DisconnectsIdle));
        e.AddGauge(SendQueueRequests, "Requests queued and not yet sent, all peers", counters, SeedingCounter.SendQueueDepth);
        e.AddGauge(PeersByInfoHash, "Peers past the handshake, by the info-hash they came with (v2: BEP 52, truncated SHA-256)", "info_hash", counters,
            ("v1", SeedingCounter.PeersJoinedV1),
            ("v2", SeedingCounter.PeersJoinedV2));
        e.AddCounter(HashRequests, "BEP 52 hash requests received", counters, SeedingCounter.HashRequestsReceived);
        e.AddCounter(HashesSent, "BEP 52 hashes messages sent in answer to hash requests", counters, SeedingCounter.HashesSent);
        e.AddCounter(HashBytesSent, "SHA-256 bytes in the hashes messages sent (32 per hash, proof hashes included)", counters, SeedingCounter.HashBytesSent);
        e.AddCounter(HashRejects, "BEP 52 hash rejects sent, by reason", "reason", counters.HashRejects, Label);
        e.AddCounter(ReadAheads, "Queued blocks found not in the page cache before a send, each read by a reader thread while other peers are served (--read-ahead)",
            counters, SeedingCounter.ReadAheads);
        e.AddCounter(ReadAheadBytes, "Bytes of queued blocks advised to the kernel (POSIX_FADV_WILLNEED) by those reads", counters, SeedingCounter.ReadAheadBytesAdvised);
        e.AddHistogram(ReadAheadWait, "Time from a queued block found not in the page cache to its bytes being read from disk", counters.ReadAheadLatency);
        e.AddCounter(SendMajorFaults, "Major page faults (disk reads) taken inside sends from mapped files: cold blocks that read-ahead did not catch",
            counters, SeedingCounter.SendMajorFaults);
    }

    /// <summary>MSE/PE handshakes by outcome (the RC4 and plaintext results are the completed ones).</summary>
    public static void Register(MetricsExporter e, EncryptionCounters counters) =>
        e.AddCounter(EncryptedHandshakes, "Encrypted (MSE/PE) handshakes by outcome", "result", counters,
            ("rc4", EncryptionCounter.HandshakesRc4),
            ("plaintext", EncryptionCounter.HandshakesPlaintext),
            ("failed", EncryptionCounter.HandshakesFailed),
            ("throttled", EncryptionCounter.HandshakesThrottled),
            ("plaintext_refused", EncryptionCounter.PlaintextRefused));

    /// <summary>Torrents by state and, when <paramref name="perTorrent"/> &gt; 0, the top torrents by upload.</summary>
    public static void Register(MetricsExporter e, TorrentRegistry registry, ContentWatcher? watcher, int perTorrent)
    {
        var states = e.CreateGauge(Torrents, "Torrents by state", "state");
        var seeding = states.WithLabels("seeding");
        var faulted = states.WithLabels("faulted");
        var refused = states.WithLabels("refused");
        var loading = states.WithLabels("loading");
        e.OnCollect(() =>
        {
            var snapshot = registry.Snapshot();
            int broken = snapshot.Count(t => t.Store.IsFaulted);
            seeding.Set(snapshot.Count - broken);
            faulted.Set(broken);
            refused.Set(watcher?.Refused().Count ?? 0);
            loading.Set(registry.LoadingCount);
        });

        if (perTorrent > 0) RegisterTopTorrents(e, registry, perTorrent);
    }

    private static void RegisterTopTorrents(MetricsExporter e, TorrentRegistry registry, int top)
    {
        var uploaded = e.CreateCounter(TorrentUploadedBytes, "Payload bytes uploaded, top torrents by upload", "infohash", "name");
        var peers = e.CreateGauge(TorrentPeersConnected, "Peers connected, top torrents by upload", "infohash", "name");
        var shown = new Dictionary<string, string[]>(StringComparer.Ordinal);
        e.OnCollect(() =>
        {
            var leaders = registry.Snapshot().OrderByDescending(t => t.UploadedBytes).Take(top).ToList();
            var keep = new HashSet<string>(StringComparer.Ordinal);
            foreach (var torrent in leaders)
            {
                string hex = torrent.InfoHash.ToHex();
                keep.Add(hex);
                if (!shown.TryGetValue(hex, out var labels)) shown[hex] = labels = [hex, torrent.Name];
                uploaded.WithLabels(labels).IncTo(torrent.UploadedBytes);
                peers.WithLabels(labels).Set(torrent.Peers);
            }
            foreach (var (hex, labels) in shown.Where(s => !keep.Contains(s.Key)).ToList())
            {
                uploaded.RemoveLabelled(labels);
                peers.RemoveLabelled(labels);
                shown.Remove(hex);
            }
        });
    }

    private static string Label(RejectReason reason) => reason switch
    {
        RejectReason.Choked => "choked",
        RejectReason.QueueFull => "queue_full",
        RejectReason.TooLong => "too_long",
        RejectReason.MetadataUnavailable => "metadata_unavailable",
        RejectReason.ShuttingDown => "shutting_down",
        _ => "other",
    };

    private static string Label(HashRejectReason reason) => reason switch
    {
        HashRejectReason.NotV2 => "not_v2",
        HashRejectReason.UnknownRoot => "unknown_root",
        HashRejectReason.BelowPieceLayer => "below_piece_layer",
        HashRejectReason.BadLayer => "bad_layer",
        HashRejectReason.OutOfRange => "out_of_range",
        HashRejectReason.TooMany => "too_many",
        HashRejectReason.OutboxFull => "outbox_full",
        _ => "other",
    };
}
