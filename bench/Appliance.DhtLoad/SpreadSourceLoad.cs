using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Appliance.Protocol.Krpc;

namespace Appliance.DhtLoad;

/// <summary>
/// DHT load as a real node sees it: queries from many distinct sources (127.1.0.1, 127.1.0.2, ...), each at a steady
/// rate below a node's per-source limit, a mix of ping, find_node and get_peers. One UDP socket does it all: each
/// query leaves with its source address chosen per datagram (IP_PKTINFO), answers to any of those addresses come back
/// to the same socket (bound to the wildcard address, so 127.x.y.z:port is ours), and the node's own queries to a
/// source (verification pings, refreshes) are answered from that source. Sends and receives go in batches
/// (sendmmsg/recvmmsg) so the load itself costs little next to the node under test; its own CPU is reported so a
/// report can say when the client was the limit. After a warm-up (the node learns its sources), one window is
/// measured: responses per second and, with --pid, per CPU-second of the node's process.
/// </summary>
internal sealed unsafe partial class SpreadSourceLoad
{
    private const int Batch = 64;
    private const int MaxDatagram = 1500;
    private const int ControlSpace = 32; // CMSG_SPACE(sizeof(struct in_pktinfo)) on 64-bit Linux
    private const int SolSocket = 1, SoSndBufForce = 32, SoRcvBufForce = 33, IpProtoIp = 0, IpPktInfo = 8;
    private const int MsgWaitForOne = 0x10000;
    private const uint FirstSource = 0x7F010001u; // 127.1.0.1

    private readonly IPEndPoint _target;
    private readonly int _sources;
    private readonly double _ratePerSource;
    private readonly byte[] _ids;
    private readonly byte[][] _keys;
    private readonly Socket _socket;
    private volatile bool _stopping;

    // Counted by the receiving thread (responses by the kind in their transaction id) and the sending thread.
    private long _sent;
    private readonly long[] _responses = new long[3];
    private long _errors, _nodeQueriesAnswered, _other;

    private SpreadSourceLoad(IPEndPoint target, int sources, double ratePerSource)
    {
        _target = target;
        _sources = sources;
        _ratePerSource = ratePerSource;
        _ids = RandomNumberGenerator.GetBytes(sources * 20);
        _keys = new byte[4096][];
        for (int i = 0; i < _keys.Length; i++) _keys[i] = RandomNumberGenerator.GetBytes(20);
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        // The wildcard address, because answers come back to every 127.1.x.y we send from. Nothing is sent anywhere
        // but the loopback target (checked by the caller).
        _socket.Bind(new IPEndPoint(IPAddress.Any, 0));
        _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
        _socket.ReceiveTimeout = 200;
        int big = 16 << 20;
        SetInt(SolSocket, SoRcvBufForce, big); // root only; the plain options below are the fallback
        SetInt(SolSocket, SoSndBufForce, big);
        if (_socket.ReceiveBufferSize < big / 4) _socket.ReceiveBufferSize = big;
        if (_socket.SendBufferSize < big / 4) _socket.SendBufferSize = big;
    }

    public static int Run(IPEndPoint target, int sources, double ratePerSource, int warmupSeconds, int seconds, int pid)
    {
        if (sources < 1 || sources > 0x00FEFFFE) { Console.Error.WriteLine("--sources must be 1..16M"); return 2; }
        var load = new SpreadSourceLoad(target, sources, ratePerSource);
        try
        {
            return load.RunWindow(warmupSeconds, seconds, pid);
        }
        finally
        {
            load._socket.Dispose();
        }
    }

    private int RunWindow(int warmupSeconds, int seconds, int pid)
    {
        var sender = new Thread(SendLoop) { IsBackground = true, Name = "dht-load-send" };
        var receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = "dht-load-receive" };
        receiver.Start();
        sender.Start();

        Thread.Sleep(TimeSpan.FromSeconds(warmupSeconds));
        var start = Snapshot(pid);
        var clock = Stopwatch.StartNew();
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        var end = Snapshot(pid);
        double elapsed = clock.Elapsed.TotalSeconds;
        _stopping = true;
        sender.Join();
        receiver.Join();

        long sent = end.Sent - start.Sent;
        long answered = end.Answered - start.Answered;
        double nodeCpu = end.NodeCpu - start.NodeCpu;
        double clientCpu = end.ClientCpu - start.ClientCpu;
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(c,
            $"target {_target} sources {_sources} rate {_ratePerSource}/s per source (offered {_sources * _ratePerSource:F0}/s) warmup {warmupSeconds} s window {elapsed:F1} s"));
        Console.WriteLine(string.Create(c,
            $"sent {sent} answered {answered} ({answered / elapsed:F0}/s, {100.0 * answered / Math.Max(1, sent):F1}% of sent): ping {end.Ping - start.Ping} find_node {end.FindNode - start.FindNode} get_peers {end.GetPeers - start.GetPeers}; errors {end.Errors - start.Errors}; node queries answered {end.NodeQueries - start.NodeQueries}"));
        if (pid > 0)
            Console.WriteLine(string.Create(c,
                $"node pid {pid} cpu {nodeCpu:F2} s = {(nodeCpu > 0 ? answered / nodeCpu : 0):F0} responses per node CPU-second; client cpu {clientCpu:F2} s"));
        Console.WriteLine(string.Create(c,
            $"RESULT responses_per_s={answered / elapsed:F0} node_cpu_s={nodeCpu:F2} responses_per_cpu_s={(nodeCpu > 0 ? answered / nodeCpu : 0):F0} client_cpu_s={clientCpu:F2} sent_per_s={sent / elapsed:F0} errors={end.Errors - start.Errors}"));
        return answered > 0 ? 0 : 1;
    }

    private readonly record struct Counts(long Sent, long Answered, long Ping, long FindNode, long GetPeers, long Errors,
        long NodeQueries, double NodeCpu, double ClientCpu);

    private Counts Snapshot(int pid)
    {
        long ping = Volatile.Read(ref _responses[0]), find = Volatile.Read(ref _responses[1]), get = Volatile.Read(ref _responses[2]);
        return new Counts(Volatile.Read(ref _sent), ping + find + get, ping, find, get, Volatile.Read(ref _errors),
            Volatile.Read(ref _nodeQueriesAnswered), pid > 0 ? CpuSeconds(pid.ToString(CultureInfo.InvariantCulture)) : 0, CpuSeconds("self"));
    }

    /// <summary>utime + stime of a process from /proc (clock ticks of 1/100 s on Linux).</summary>
    private static double CpuSeconds(string pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // After "pid (comm) ": state is field 0, utime field 11, stime field 12.
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    private void SendLoop()
    {
        var data = GC.AllocateArray<byte>(Batch * MaxDatagram, pinned: true);
        var controls = GC.AllocateArray<byte>(Batch * ControlSpace, pinned: true);
        var vectors = GC.AllocateArray<IoVector>(Batch, pinned: true);
        var messages = GC.AllocateArray<MultiMessageHeader>(Batch, pinned: true);
        var name = GC.AllocateArray<byte>(16, pinned: true);
        WriteSockaddr(name, _target);
        Span<byte> tid = stackalloc byte[2];
        var version = "LD\x00\x02"u8;
        long sequence = 0;
        double perSecond = _sources * _ratePerSource;
        var clock = Stopwatch.StartNew();
        int fd = (int)_socket.SafeHandle.DangerousGetHandle();

        while (!_stopping)
        {
            long due = (long)(clock.Elapsed.TotalSeconds * perSecond);
            // A stall (the machine was busy) must not turn into a burst: fall behind by at most a quarter second.
            if (due - sequence > perSecond / 4) sequence = due - (long)(perSecond / 4);
            if (sequence >= due) { Thread.Sleep(1); continue; }
            int count = (int)Math.Min(Batch, due - sequence);
            for (int i = 0; i < count; i++, sequence++)
            {
                int source = (int)(sequence % _sources);
                int kind = (int)(sequence / _sources % 3);
                var id = _ids.AsSpan(source * 20, 20);
                var buffer = data.AsSpan(i * MaxDatagram, MaxDatagram);
                tid[0] = (byte)kind;
                tid[1] = (byte)sequence;
                var key = _keys[(int)(sequence & (_keys.Length - 1))];
                int length = kind switch
                {
                    0 => KrpcWriter.WritePing(buffer, tid, id, version),
                    1 => KrpcWriter.WriteFindNode(buffer, tid, id, key, version),
                    _ => KrpcWriter.WriteGetPeers(buffer, tid, id, key, version),
                };
                Prepare(ref messages[i], ref vectors[i], data, i, length, controls, name, FirstSource + (uint)source);
            }
            SendAll(fd, messages, count);
            Interlocked.Add(ref _sent, count);
        }
    }

    private void ReceiveLoop()
    {
        var data = GC.AllocateArray<byte>(Batch * MaxDatagram, pinned: true);
        var names = GC.AllocateArray<byte>(Batch * 16, pinned: true);
        var controls = GC.AllocateArray<byte>(Batch * 64, pinned: true);
        var vectors = GC.AllocateArray<IoVector>(Batch, pinned: true);
        var messages = GC.AllocateArray<MultiMessageHeader>(Batch, pinned: true);
        var replyData = GC.AllocateArray<byte>(Batch * 128, pinned: true);
        var replyNames = GC.AllocateArray<byte>(Batch * 16, pinned: true);
        var replyControls = GC.AllocateArray<byte>(Batch * ControlSpace, pinned: true);
        var replyVectors = GC.AllocateArray<IoVector>(Batch, pinned: true);
        var replies = GC.AllocateArray<MultiMessageHeader>(Batch, pinned: true);
        int fd = (int)_socket.SafeHandle.DangerousGetHandle();

        while (!_stopping)
        {
            fixed (byte* d = data, n = names, c = controls)
            fixed (IoVector* v = vectors)
            fixed (MultiMessageHeader* m = messages)
            {
                for (int i = 0; i < Batch; i++)
                {
                    v[i] = new IoVector { Base = (nint)(d + i * MaxDatagram), Length = MaxDatagram };
                    m[i] = new MultiMessageHeader
                    {
                        Header = new MessageHeader
                        {
                            Name = (nint)(n + i * 16), NameLength = 16, Vectors = (nint)(v + i), VectorCount = 1,
                            Control = (nint)(c + i * 64), ControlLength = 64,
                        },
                    };
                }
                int received = ReceiveMany(fd, m, Batch, MsgWaitForOne, null);
                if (received <= 0) continue; // timeout (SO_RCVTIMEO) or interruption: look at the stop flag
                int replyCount = 0;
                for (int i = 0; i < received; i++)
                {
                    var datagram = data.AsSpan(i * MaxDatagram, (int)m[i].Length);
                    if (KrpcParser.Parse(datagram, out var message) != KrpcParseStatus.Ok) { _other++; continue; }
                    switch (message.Type)
                    {
                        case KrpcMessageType.Response when message.TransactionId.Length == 2 && message.TransactionId[0] < 3:
                            Interlocked.Increment(ref _responses[message.TransactionId[0]]);
                            break;
                        case KrpcMessageType.Error:
                            Interlocked.Increment(ref _errors);
                            break;
                        case KrpcMessageType.Query:
                            uint local = DestinationAddress(m[i].Header);
                            int source = (int)(local - FirstSource);
                            if (local == 0 || source < 0 || source >= _sources) break;
                            int length = WriteBareResponse(replyData.AsSpan(replyCount * 128, 128), message.TransactionId,
                                _ids.AsSpan(source * 20, 20));
                            if (length <= 0) break;
                            names.AsSpan(i * 16, 16).CopyTo(replyNames.AsSpan(replyCount * 16, 16));
                            Prepare(ref replies[replyCount], ref replyVectors[replyCount], replyData, replyCount, length, replyControls,
                                replyNames.AsSpan(replyCount * 16, 16), local, slot: 128);
                            replyCount++;
                            break;
                        default:
                            _other++;
                            break;
                    }
                }
                if (replyCount > 0)
                {
                    SendAll(fd, replies, replyCount);
                    Interlocked.Add(ref _nodeQueriesAnswered, replyCount);
                }
            }
        }
    }

    /// <summary>A response carrying only our id: enough for a node's ping, and harmless for anything else it asks.</summary>
    private static int WriteBareResponse(Span<byte> destination, ReadOnlySpan<byte> transactionId, ReadOnlySpan<byte> id)
    {
        if (transactionId.Length > 32) return 0;
        int at = 0;
        "d1:rd2:id20:"u8.CopyTo(destination); at += 12;
        id.CopyTo(destination[at..]); at += 20;
        "e1:t"u8.CopyTo(destination[at..]); at += 4;
        transactionId.Length.TryFormat(destination[at..], out int digits, default, CultureInfo.InvariantCulture); at += digits;
        destination[at++] = (byte)':';
        transactionId.CopyTo(destination[at..]); at += transactionId.Length;
        "1:y1:re"u8.CopyTo(destination[at..]); at += 7;
        return at;
    }

    /// <summary>The destination address of a received datagram, from its IP_PKTINFO control message (0 if absent).</summary>
    private static uint DestinationAddress(in MessageHeader header)
    {
        var control = new ReadOnlySpan<byte>((void*)header.Control, (int)header.ControlLength);
        int at = 0;
        while (at + 16 <= control.Length)
        {
            long length = BinaryPrimitives.ReadInt64LittleEndian(control[at..]);
            int level = BinaryPrimitives.ReadInt32LittleEndian(control[(at + 8)..]);
            int type = BinaryPrimitives.ReadInt32LittleEndian(control[(at + 12)..]);
            if (length < 16) return 0;
            if (level == IpProtoIp && type == IpPktInfo && length >= 28)
                return BinaryPrimitives.ReadUInt32BigEndian(control[(at + 24)..]); // in_pktinfo.ipi_addr
            at += (int)((length + 7) & ~7L);
        }
        return 0;
    }

    /// <summary>One datagram of a batch, sent from <paramref name="source"/> (IP_PKTINFO's ipi_spec_dst).</summary>
    private static void Prepare(ref MultiMessageHeader message, ref IoVector vector, byte[] data, int index, int length,
        byte[] controls, Span<byte> name, uint source, int slot = MaxDatagram)
    {
        vector = new IoVector { Base = (nint)Unsafe.AsPointer(ref data[index * slot]), Length = (nuint)length };
        var control = controls.AsSpan(index * ControlSpace, ControlSpace);
        control.Clear();
        BinaryPrimitives.WriteInt64LittleEndian(control, 28); // cmsg_len = CMSG_LEN(12)
        BinaryPrimitives.WriteInt32LittleEndian(control[8..], IpProtoIp);
        BinaryPrimitives.WriteInt32LittleEndian(control[12..], IpPktInfo);
        BinaryPrimitives.WriteUInt32BigEndian(control[20..], source); // ipi_spec_dst; ipi_ifindex (16..20) stays 0
        message = new MultiMessageHeader
        {
            Header = new MessageHeader
            {
                Name = (nint)Unsafe.AsPointer(ref name[0]), NameLength = 16,
                Vectors = (nint)Unsafe.AsPointer(ref vector), VectorCount = 1,
                Control = (nint)Unsafe.AsPointer(ref control[0]), ControlLength = ControlSpace,
            },
        };
    }

    private static void SendAll(int fd, MultiMessageHeader[] messages, int count)
    {
        fixed (MultiMessageHeader* m = messages)
        {
            int done = 0;
            while (done < count)
            {
                int sent = SendMany(fd, m + done, (uint)(count - done), 0);
                if (sent <= 0)
                {
                    int error = Marshal.GetLastPInvokeError();
                    if (error == 4) continue; // EINTR
                    // A full socket buffer or a refused port: drop the rest of this batch, as a lossy network would.
                    return;
                }
                done += sent;
            }
        }
    }

    private static void WriteSockaddr(Span<byte> destination, IPEndPoint endPoint)
    {
        destination.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(destination, 2); // AF_INET
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)endPoint.Port);
        endPoint.Address.TryWriteBytes(destination[4..8], out _);
    }

    private void SetInt(int level, int name, int value)
    {
        int v = value;
        _ = SetSockOpt((int)_socket.SafeHandle.DangerousGetHandle(), level, name, &v, sizeof(int));
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public nint Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public nint Name;
        public uint NameLength;
        public nint Vectors;
        public nuint VectorCount;
        public nint Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MultiMessageHeader
    {
        public MessageHeader Header;
        public uint Length;
    }

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    private static partial int SendMany(int socket, MultiMessageHeader* messages, uint length, int flags);

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    private static partial int ReceiveMany(int socket, MultiMessageHeader* messages, uint length, int flags, void* timeout);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int socket, int level, int name, void* value, int length);
}
