using System.Buffers.Binary;
using Appliance.Dht.Defense;
using Appliance.Dht.Lookups;
using Appliance.Dht.Peers;
using Appliance.Dht.Routing;
using Appliance.Dht.Tokens;
using Appliance.Protocol.Bencode;
using Appliance.Protocol.Krpc;
using Appliance.Protocol.Randomness;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Dht.Node;

public sealed record AnnounceResult(int Acknowledged, LookupResult Lookup);

/// <summary>
/// The DHT node without its socket: answers queries, matches responses to our transactions, runs lookups and
/// announces, and keeps the routing table, tokens and peer store. Every entry point takes one lock, so the
/// socket thread, the timer and callers may use it at once. The receive path allocates nothing.
/// </summary>
public sealed class DhtEngine
{
    private const int TransactionIdLength = 2;
    private const int MaxVerifications = 64;
    private const int VotesForExternalAddress = 3;
    private const int VotesToChangeExternalAddress = 8;

    private readonly Lock _gate = new();
    private readonly DhtNodeOptions _options;
    private readonly IDatagramSender _sender;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly byte[] _version;
    private readonly byte[] _sendBuffer = new byte[1500];
    private readonly byte[] _ownIdBytes = new byte[NodeId.Length];
    private readonly Dictionary<ushort, PendingQuery> _pending = [];
    private readonly HashSet<CompactPeer> _verifying = [];
    private readonly List<RunningLookup> _lookups = [];
    private readonly Dictionary<UInt128, HashSet<UInt128>> _addressVotes = [];
    private readonly bool _ipv6;
    private readonly SourceRateLimiter _limiter;
    private readonly TokenIssuer _tokens;
    private RoutingTable _table;
    private DateTimeOffset _lastMaintenance;

    public DhtEngine(DhtNodeOptions options, IDatagramSender sender, TimeProvider time, ILogger? logger = null, DhtCounters? counters = null)
    {
        _options = options;
        _sender = sender;
        _time = time;
        _logger = logger ?? NullLogger.Instance;
        _version = options.Version.ToArray();
        _ipv6 = options.EndPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        Counters = counters ?? new DhtCounters();
        _table = new RoutingTable(options.Id ?? NodeId.Random(), time);
        _table.OwnId.CopyTo(_ownIdBytes);
        _limiter = new SourceRateLimiter(options.PacketsPerSecondPerSource, options.BurstPerSource, options.MaxTrackedSources, time);
        _tokens = new TokenIssuer(time);
        Peers = new PeerStore(options.PeerLimits, time);
        _lastMaintenance = time.GetUtcNow();
    }

    public DhtCounters Counters { get; }

    /// <summary>
    /// The node of the other address family on the same port (BEP 32: one routing table per family), whose nodes a
    /// query's <c>want</c> may ask for.
    /// </summary>
    public DhtEngine? Sibling { get; set; }

    /// <summary>True for the IPv6 node: it answers with <c>nodes6</c> and 18-byte addresses.</summary>
    public bool IsIPv6 => _ipv6;

    public PeerStore Peers { get; }

    public NodeId Id
    {
        get { lock (_gate) return _table.OwnId; }
    }

    /// <summary>Our address as responders see it (BEP 42 <c>ip</c>), once enough of them agree.</summary>
    public CompactPeer? ExternalAddress { get; private set; }

    public int TableSize
    {
        get { lock (_gate) return _table.Count; }
    }

    /// <summary>Runs <paramref name="action"/> on the routing table under the engine's lock.</summary>
    public T WithTable<T>(Func<RoutingTable, T> action)
    {
        lock (_gate) return action(_table);
    }

    public int PendingQueries
    {
        get { lock (_gate) return _pending.Count; }
    }

    /// <summary>One datagram from <paramref name="source"/>: a query is answered, a response or error goes to its transaction.</summary>
    public void Receive(ReadOnlySpan<byte> datagram, CompactPeer source)
    {
        lock (_gate)
        {
            var status = KrpcParser.Parse(datagram, out var message);
            if (status != KrpcParseStatus.Ok)
            {
                Counters.Malformed();
                return;
            }
            switch (message.Type)
            {
                case KrpcMessageType.Query:
                    HandleQuery(ref message, source, datagram.Length);
                    break;
                case KrpcMessageType.Response:
                    HandleResponse(ref message, source);
                    break;
                default:
                    HandleError(ref message, source);
                    break;
            }
        }
    }

    private void HandleQuery(ref KrpcMessage query, CompactPeer source, int queryLength)
    {
        if (!_limiter.TryAcquire(source.Address))
        {
            Counters.RateLimited();
            return;
        }
        Counters.QueryReceived(query.Method);
        var senderId = new NodeId(query.NodeId);
        int budget = Math.Min(_options.MaxResponseBytes, queryLength * _options.AmplificationFactor);
        // A verification ping goes to the same source: it is part of what this query makes us send.
        if (!query.ReadOnlyNode) budget -= NoteQuerier(senderId, source);
        var w = new BencodeWriter(_sendBuffer);
        switch (query.Method)
        {
            case KrpcMethod.Ping:
                KrpcWriter.BeginResponse(ref w, source, _ownIdBytes);
                break;
            case KrpcMethod.FindNode when !query.Target.IsEmpty:
                KrpcWriter.BeginResponse(ref w, source, _ownIdBytes);
                WriteNodes(ref w, new NodeId(query.Target), budget - w.BytesWritten - TailLength(query.TransactionId), query.Want);
                break;
            case KrpcMethod.GetPeers when !query.InfoHash.IsEmpty:
                KrpcWriter.BeginResponse(ref w, source, _ownIdBytes);
                WriteGetPeersBody(ref w, new NodeId(query.InfoHash), source, budget - w.BytesWritten - TailLength(query.TransactionId), query.Want);
                break;
            case KrpcMethod.AnnouncePeer when !query.InfoHash.IsEmpty:
                if (!_tokens.IsValid(source.Address, query.Token))
                {
                    Counters.BadToken();
                    SendError(query.TransactionId, KrpcWriter.ErrorProtocol, "bad token"u8, source);
                    return;
                }
                int port = query.ImpliedPort ? source.Port : query.Port;
                if (port is <= 0 or > ushort.MaxValue)
                {
                    SendError(query.TransactionId, KrpcWriter.ErrorProtocol, "bad port"u8, source);
                    return;
                }
                if (!Peers.Announce(new NodeId(query.InfoHash), new CompactPeer(source.Address, (ushort)port))) Counters.PeerRefused();
                Counters.SetPeersStored(Peers.Count);
                KrpcWriter.BeginResponse(ref w, source, _ownIdBytes);
                break;
            case KrpcMethod.Unknown when !query.Target.IsEmpty || !query.InfoHash.IsEmpty:
                // Unknown methods with a target are answered like find_node, for forward compatibility.
                KrpcWriter.BeginResponse(ref w, source, _ownIdBytes);
                WriteNodes(ref w, new NodeId(query.Target.IsEmpty ? query.InfoHash : query.Target), budget - w.BytesWritten - TailLength(query.TransactionId));
                break;
            case KrpcMethod.Unknown:
                SendError(query.TransactionId, KrpcWriter.ErrorMethodUnknown, "method unknown"u8, source);
                return;
            default:
                SendError(query.TransactionId, KrpcWriter.ErrorProtocol, "missing argument"u8, source);
                return;
        }
        KrpcWriter.EndResponse(ref w, query.TransactionId, _version);
        if (w.BytesWritten > budget)
        {
            // Cannot answer within the amplification budget (a tiny query): stay silent.
            Counters.RateLimited();
            return;
        }
        Counters.ResponseSent();
        Send(_sendBuffer.AsSpan(0, w.BytesWritten), source);
    }

    private int TailLength(ReadOnlySpan<byte> transactionId) =>
        1 + 3 + StringLength(transactionId.Length) + (_version.Length > 0 ? 3 + StringLength(_version.Length) : 0) + 6 + 1;

    private static int StringLength(int length) => length + 1 + (length < 10 ? 1 : length < 100 ? 2 : length < 1000 ? 3 : 4);

    /// <summary>BEP 32: nodes of the family the query came over, or of the families its <c>want</c> names.</summary>
    private void WriteNodes(ref BencodeWriter w, NodeId target, int available, KrpcWant want = KrpcWant.None)
    {
        if (want == KrpcWant.None) want = _ipv6 ? KrpcWant.Nodes6 : KrpcWant.Nodes4;
        if ((want & KrpcWant.Nodes4) != 0) available -= WriteFamilyNodes(ref w, target, available, ipv6: false);
        if ((want & KrpcWant.Nodes6) != 0) WriteFamilyNodes(ref w, target, available, ipv6: true);
    }

    private int WriteFamilyNodes(ref BencodeWriter w, NodeId target, int available, bool ipv6)
    {
        int entry = CompactNode.LengthFor(ipv6);
        int count = Math.Min(RoutingTable.K, (available - 8 - 5) / entry);
        if (count <= 0) return 0;
        Span<byte> nodes = stackalloc byte[RoutingTable.K * CompactNode.V6Length];
        if (ipv6 == _ipv6) count = _table.WriteClosest(target, nodes, count);
        else if (Sibling is not { } sibling || (count = sibling.TryWriteClosest(target, nodes, count)) == 0) return 0;
        int before = w.BytesWritten;
        w.WriteKey(ipv6 ? "nodes6"u8 : "nodes"u8);
        w.WriteString(nodes[..(count * entry)]);
        return w.BytesWritten - before;
    }

    /// <summary>Our closest nodes for the sibling's answer; skipped when we are busy, so two engines never wait on each other.</summary>
    private int TryWriteClosest(NodeId target, Span<byte> destination, int max)
    {
        if (!_gate.TryEnter()) return 0;
        try
        {
            return _table.WriteClosest(target, destination, max);
        }
        finally
        {
            _gate.Exit();
        }
    }

    private void WriteGetPeersBody(ref BencodeWriter w, NodeId infoHash, CompactPeer source, int available, KrpcWant want)
    {
        const int tokenField = 7 + 2 + TokenIssuer.TokenLength;
        available -= tokenField;
        Span<byte> token = stackalloc byte[TokenIssuer.TokenLength];
        _tokens.Issue(source.Address, token);
        int stored = Peers.CountFor(infoHash);
        int values = Math.Min(stored, (available - 10) / (_ipv6 ? 3 + CompactPeer.V6Length : 2 + CompactPeer.Length));
        if (values <= 0) WriteNodes(ref w, infoHash, available, want);
        w.WriteKey("token"u8);
        w.WriteString(token);
        if (values > 0)
        {
            w.WriteKey("values"u8);
            Peers.WriteValues(infoHash, ref w, values);
        }
    }

    private void SendError(ReadOnlySpan<byte> transactionId, int code, ReadOnlySpan<byte> text, CompactPeer destination)
    {
        int length = KrpcWriter.WriteError(_sendBuffer, transactionId, code, text, _version);
        Counters.ErrorSent();
        Send(_sendBuffer.AsSpan(0, length), destination);
    }

    /// <summary>
    /// A node that queries us is refreshed if known; an unknown one is pinged, and enters the table only if it answers.
    /// Returns the bytes of the ping sent (0 when none).
    /// </summary>
    private int NoteQuerier(NodeId id, CompactPeer source)
    {
        var known = _table.Find(source);
        if (known is not null)
        {
            _table.OnQueryFrom(id, source);
            return 0;
        }
        if (!NodeIdSecurity.IsValid(id, source)) Counters.IdNotMatchingAddress();
        if (_verifying.Count >= MaxVerifications || _verifying.Contains(source) || !_table.HasRoomFor(id, source)) return 0;
        int sent = SendPing(source, retries: 0);
        if (sent > 0) _verifying.Add(source);
        return sent;
    }

    private void HandleResponse(ref KrpcMessage response, CompactPeer source)
    {
        if (response.TransactionId.Length != TransactionIdLength
            || !_pending.TryGetValue(BinaryPrimitives.ReadUInt16BigEndian(response.TransactionId), out var query)
            || query.To != source)
        {
            Counters.UnknownTransaction();
            return;
        }
        _pending.Remove(query.Transaction);
        _verifying.Remove(source);
        Counters.ResponseReceived();
        var id = new NodeId(response.NodeId);
        if (!response.ReadOnlyNode)
        {
            var outcome = _table.AddVerified(id, source);
            if (outcome == InsertOutcome.Cached) PingQuestionable(id);
            Counters.SetTableSize(_table.Count);
        }
        NoteExternalAddress(response.ExternalAddress, source.Address);

        if (query.Lookup is { } run && query.Candidate is { } candidate)
        {
            run.Lookup.OnResponse(candidate, id, response.Token);
            run.Lookup.AddCompactNodes(_ipv6 ? response.Nodes6 : response.Nodes, _ipv6);
            foreach (var value in response.EnumerateValues()) run.Lookup.AddPeer(CompactPeer.ReadAny(value));
            Advance(run);
        }
        query.Announce?.Complete(acknowledged: true);
    }

    private void HandleError(ref KrpcMessage error, CompactPeer source)
    {
        if (error.TransactionId.Length != TransactionIdLength
            || !_pending.TryGetValue(BinaryPrimitives.ReadUInt16BigEndian(error.TransactionId), out var query)
            || query.To != source)
        {
            Counters.UnknownTransaction();
            return;
        }
        _pending.Remove(query.Transaction);
        _verifying.Remove(source);
        Counters.ErrorReceived();
        if (query.Lookup is { } run && query.Candidate is { } candidate)
        {
            run.Lookup.OnFailure(candidate);
            Advance(run);
        }
        query.Announce?.Complete(acknowledged: false);
    }

    private void PingQuestionable(NodeId near)
    {
        int sent = 0;
        foreach (var node in _table.QuestionableNear(near))
        {
            if (sent++ == 2) break;
            SendPing(node.Address, retries: 1);
        }
    }

    /// <summary>
    /// Counts a responder's view of our address: one vote per responder IP, so one node answering many queries is one
    /// voice; a first address needs <see cref="VotesForExternalAddress"/> voters, a change from it
    /// <see cref="VotesToChangeExternalAddress"/>, because the change also replaces our BEP 42 node id.
    /// </summary>
    private void NoteExternalAddress(ReadOnlySpan<byte> compact, UInt128 voter)
    {
        if (compact.Length != (_ipv6 ? CompactPeer.V6Length : CompactPeer.Length)) return;
        var address = CompactPeer.ReadAny(compact);
        if (ExternalAddress is { } current && current.Address == address.Address) return;
        if (_addressVotes.Count > 64) _addressVotes.Clear();
        if (!_addressVotes.TryGetValue(address.Address, out var voters)) _addressVotes[address.Address] = voters = [];
        voters.Add(voter);
        if (voters.Count < (ExternalAddress is null ? VotesForExternalAddress : VotesToChangeExternalAddress)) return;
        _addressVotes.Clear();
        ExternalAddress = address;
        if (!_options.UseSecureId || _options.Id is not null || NodeIdSecurity.IsExempt(address)) return;
        if (NodeIdSecurity.IsValid(_table.OwnId, address)) return;
        var newTable = new RoutingTable(NodeIdSecurity.Generate(address), _time);
        foreach (var node in _table.AllNodes()) newTable.AddVerified(node.Id, node.Address);
        _table = newTable;
        _table.OwnId.CopyTo(_ownIdBytes);
        DhtLog.IdChanged(_logger, address.ToString(), _table.OwnId.ToString());
    }

    /// <summary>Lists a peer (ourselves, for a torrent we seed) for the info-hash as if it had announced to us.</summary>
    public void AddLocalPeer(NodeId infoHash, CompactPeer peer)
    {
        lock (_gate)
        {
            Peers.AnnounceLocal(infoHash, peer);
            Counters.SetPeersStored(Peers.Count);
        }
    }

    public Task<LookupResult> FindNodeAsync(NodeId target, CancellationToken cancellationToken = default) =>
        LookupAsync(target, LookupKind.FindNode, [], [], cancellationToken);

    public Task<LookupResult> GetPeersAsync(NodeId infoHash, CancellationToken cancellationToken = default) =>
        LookupAsync(infoHash, LookupKind.GetPeers, [], [], cancellationToken);

    /// <summary>
    /// Joins the network: a find_node lookup for our own id through the given addresses (ids unknown) and the
    /// nodes remembered from the last run (ids known; they enter the table only when they answer).
    /// </summary>
    public async Task<LookupResult> BootstrapAsync(IReadOnlyList<CompactPeer> routers, IReadOnlyList<(NodeId Id, CompactPeer Address)> remembered, CancellationToken cancellationToken = default)
    {
        var joined = await LookupAsync(Id, LookupKind.FindNode, routers, remembered, cancellationToken).ConfigureAwait(false);
        await RefreshAllAsync(cancellationToken).ConfigureAwait(false);
        return joined;
    }

    /// <summary>
    /// A find_node lookup for a random id in every bucket, as a refresh does: the nodes asked in far parts of the
    /// id space learn about us (they verify us with a ping) and we learn their neighbourhoods.
    /// </summary>
    public async Task RefreshAllAsync(CancellationToken cancellationToken = default)
    {
        List<NodeId> targets;
        lock (_gate)
        {
            targets = [];
            for (int i = 0; i < _table.BucketCount; i++) targets.Add(_table.OwnId.RandomWithPrefix(i));
        }
        await Task.WhenAll(targets.Select(t => FindNodeAsync(t, cancellationToken))).ConfigureAwait(false);
    }

    public Task<LookupResult> LookupAsync(NodeId target, LookupKind kind, IReadOnlyList<CompactPeer> routers,
        IReadOnlyList<(NodeId Id, CompactPeer Address)> knownNodes, CancellationToken cancellationToken)
    {
        RunningLookup run;
        lock (_gate)
        {
            var lookup = new Lookup(target, kind, RoutingTable.K, _options.Alpha, _table.OwnId);
            foreach (var node in _table.Closest(target, RoutingTable.K)) lookup.AddCandidate(node.Id, node.Address);
            // Each family's node bootstraps from addresses of its own family.
            foreach (var (id, address) in knownNodes)
            {
                if (address.IsV6 == _ipv6) lookup.AddCandidate(id, address);
            }
            foreach (var address in routers)
            {
                if (address.IsV6 == _ipv6) lookup.AddBootstrap(address);
            }
            run = new RunningLookup(lookup, _time.GetUtcNow() + _options.LookupTimeout);
            _lookups.Add(run);
            Advance(run);
        }
        if (cancellationToken.CanBeCanceled && !run.Completion.Task.IsCompleted)
        {
            // The registration goes when the lookup ends, so a long-lived token does not collect one per lookup.
            var registration = cancellationToken.Register(() =>
            {
                lock (_gate) Finish(run);
            });
            run.Completion.Task.ContinueWith(static (_, state) => ((CancellationTokenRegistration)state!).Dispose(), registration,
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return run.Completion.Task;
    }

    /// <summary>get_peers towards the info-hash, then announce_peer to the closest responders with their tokens.</summary>
    public async Task<AnnounceResult> AnnounceAsync(NodeId infoHash, int port, bool impliedPort, CancellationToken cancellationToken = default)
    {
        var lookup = await GetPeersAsync(infoHash, cancellationToken).ConfigureAwait(false);
        var batch = new AnnounceBatch();
        lock (_gate)
        {
            Span<byte> hash = stackalloc byte[NodeId.Length];
            infoHash.CopyTo(hash);
            Span<byte> tid = stackalloc byte[TransactionIdLength];
            foreach (var responder in lookup.Closest)
            {
                if (responder.Token.Length == 0) continue;
                if (!TryRegister(responder.Address, KrpcMethod.AnnouncePeer, 0, null, null, batch, out ushort transaction)) continue;
                BinaryPrimitives.WriteUInt16BigEndian(tid, transaction);
                int length = KrpcWriter.WriteAnnouncePeer(_sendBuffer, tid, _ownIdBytes, hash, port, impliedPort, responder.Token, _version);
                batch.Expect();
                Send(_sendBuffer.AsSpan(0, length), responder.Address);
            }
            batch.Seal();
        }
        int acknowledged = await batch.Task.ConfigureAwait(false);
        DhtLog.Announced(_logger, infoHash.ToString(), acknowledged, lookup.Peers.Count);
        return new AnnounceResult(acknowledged, lookup);
    }

    /// <summary>Timeouts, retries, lookup deadlines, and once a minute: bucket refresh and peer expiry.</summary>
    public void Tick()
    {
        List<NodeId>? refresh = null;
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            long nowTicks = now.UtcTicks;
            List<PendingQuery>? expired = null;
            foreach (var query in _pending.Values)
            {
                if (query.DeadlineTicks <= nowTicks) (expired ??= []).Add(query);
            }
            if (expired is not null)
            {
                foreach (var query in expired) Expire(query, nowTicks);
            }
            for (int i = _lookups.Count - 1; i >= 0; i--)
            {
                if (_lookups[i].Deadline <= now) Finish(_lookups[i]);
            }
            if (now - _lastMaintenance >= TimeSpan.FromMinutes(1))
            {
                _lastMaintenance = now;
                Peers.Purge();
                Counters.SetPeersStored(Peers.Count);
                Counters.SetTableSize(_table.Count);
                if (_table.Count > 0) refresh = _table.TakeRefreshTargets();
            }
        }
        if (refresh is null) return;
        foreach (var target in refresh) _ = FindNodeAsync(target);
    }

    /// <summary>On stop: every running lookup and announce completes now with what it has.</summary>
    public void AbortAll()
    {
        lock (_gate)
        {
            foreach (var query in _pending.Values) query.Announce?.Complete(acknowledged: false);
            _pending.Clear();
            _verifying.Clear();
            for (int i = _lookups.Count - 1; i >= 0; i--) Finish(_lookups[i]);
        }
    }

    private void Expire(PendingQuery query, long nowTicks)
    {
        if (query.RetriesLeft > 0 && query.Packet is not null)
        {
            query.RetriesLeft--;
            query.DeadlineTicks = nowTicks + _options.QueryTimeout.Ticks;
            Send(query.Packet, query.To);
            return;
        }
        _pending.Remove(query.Transaction);
        _verifying.Remove(query.To);
        Counters.Timeout();
        _table.OnFailure(query.To);
        if (query.Lookup is { } run && query.Candidate is { } candidate)
        {
            run.Lookup.OnFailure(candidate);
            Advance(run);
        }
        query.Announce?.Complete(acknowledged: false);
    }

    private void Advance(RunningLookup run)
    {
        if (run.Completion.Task.IsCompleted) return;
        Span<byte> tid = stackalloc byte[TransactionIdLength];
        Span<byte> target = stackalloc byte[NodeId.Length];
        run.Lookup.Target.CopyTo(target);
        var method = run.Lookup.Kind == LookupKind.GetPeers ? KrpcMethod.GetPeers : KrpcMethod.FindNode;
        foreach (var candidate in run.Lookup.NextQueries())
        {
            if (!TryRegister(candidate.Address, method, 0, run, candidate, null, out ushort transaction))
            {
                run.Lookup.OnFailure(candidate);
                continue;
            }
            BinaryPrimitives.WriteUInt16BigEndian(tid, transaction);
            int length = method == KrpcMethod.GetPeers
                ? KrpcWriter.WriteGetPeers(_sendBuffer, tid, _ownIdBytes, target, _version)
                : KrpcWriter.WriteFindNode(_sendBuffer, tid, _ownIdBytes, target, _version);
            Send(_sendBuffer.AsSpan(0, length), candidate.Address);
        }
        if (run.Lookup.IsDone) Finish(run);
    }

    private void Finish(RunningLookup run)
    {
        _lookups.Remove(run);
        if (run.Completion.Task.IsCompleted) return;
        if (run.Lookup.Kind == LookupKind.FindNode && run.Lookup.Target == _table.OwnId)
            DhtLog.Bootstrapped(_logger, _table.Count, run.Lookup.QueriesSent);
        run.Completion.TrySetResult(run.Lookup.Result());
    }

    /// <summary>Sends a ping; returns its length in bytes, or 0 when it could not be registered.</summary>
    private int SendPing(CompactPeer destination, int retries)
    {
        if (!TryRegister(destination, KrpcMethod.Ping, retries, null, null, null, out ushort transaction)) return 0;
        Span<byte> tid = stackalloc byte[TransactionIdLength];
        BinaryPrimitives.WriteUInt16BigEndian(tid, transaction);
        int length = KrpcWriter.WritePing(_sendBuffer, tid, _ownIdBytes, _version);
        if (retries > 0) _pending[transaction].Packet = _sendBuffer.AsSpan(0, length).ToArray();
        Send(_sendBuffer.AsSpan(0, length), destination);
        return length;
    }

    private bool TryRegister(CompactPeer destination, KrpcMethod method, int retries, RunningLookup? run, Lookup.Candidate? candidate,
        AnnounceBatch? announce, out ushort transaction)
    {
        transaction = 0;
        if (_pending.Count >= _options.MaxPendingQueries || !destination.IsValid) return false;
        // Random, so an off-path attacker cannot predict the id of our next query and forge its answer.
        do transaction = (ushort)KernelRandom.GetInt32(ushort.MaxValue + 1);
        while (_pending.ContainsKey(transaction));
        _pending[transaction] = new PendingQuery(transaction, destination)
        {
            DeadlineTicks = _time.GetUtcNow().UtcTicks + _options.QueryTimeout.Ticks,
            RetriesLeft = retries,
            Lookup = run,
            Candidate = candidate,
            Announce = announce,
        };
        Counters.QuerySent(method);
        return true;
    }

    private void Send(ReadOnlySpan<byte> datagram, CompactPeer destination) => _sender.Send(datagram, destination);

    private sealed class PendingQuery(ushort transaction, CompactPeer to)
    {
        public ushort Transaction { get; } = transaction;
        public CompactPeer To { get; } = to;
        public long DeadlineTicks { get; set; }
        public int RetriesLeft { get; set; }
        public byte[]? Packet { get; set; }
        public RunningLookup? Lookup { get; init; }
        public Lookup.Candidate? Candidate { get; init; }
        public AnnounceBatch? Announce { get; init; }
    }

    private sealed class RunningLookup(Lookup lookup, DateTimeOffset deadline)
    {
        public Lookup Lookup { get; } = lookup;
        public DateTimeOffset Deadline { get; } = deadline;
        public TaskCompletionSource<LookupResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The announce_peer queries of one announce; completes when each is answered or timed out.</summary>
    private sealed class AnnounceBatch
    {
        private readonly TaskCompletionSource<int> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _outstanding;
        private int _acknowledged;
        private bool _sealed;

        public Task<int> Task => _completion.Task;

        public void Expect() => _outstanding++;

        public void Seal()
        {
            _sealed = true;
            if (_outstanding == 0) _completion.TrySetResult(_acknowledged);
        }

        public void Complete(bool acknowledged)
        {
            if (acknowledged) _acknowledged++;
            if (--_outstanding == 0 && _sealed) _completion.TrySetResult(_acknowledged);
        }
    }
}
