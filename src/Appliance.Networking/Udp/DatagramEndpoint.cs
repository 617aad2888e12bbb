using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Networking.Udp;

/// <summary>Receives the datagrams of a <see cref="DatagramEndpoint"/>, on its receive thread, one at a time.</summary>
public interface IDatagramHandler
{
    /// <summary><paramref name="source"/> is reused for the next datagram: copy what must outlive the call.</summary>
    void OnDatagram(ReadOnlySpan<byte> datagram, SocketAddress source);

    /// <summary>Called after the datagrams of one received batch: the moment to send replies gathered meanwhile.</summary>
    void OnBatchEnd()
    {
    }
}

/// <summary>
/// One UDP socket shared by everything on a port (the DHT node and uTP on the listen port): a receive thread that
/// takes datagrams in batches (<c>recvmmsg</c> on Linux, <see cref="BatchedReceive"/>) into pinned buffers reused for
/// ever, with one reused <see cref="SocketAddress"/> (no allocation per datagram), hands each datagram to the handler,
/// and a thread-safe send. Receive errors caused by a single datagram (ICMP unreachable from an earlier send,
/// an oversized datagram) are skipped; anything else ends the loop, logged.
/// </summary>
public sealed class DatagramEndpoint : IDisposable
{
    /// <summary>Larger than any datagram we accept (uTP fits a 1500-byte path, KRPC stays under 1.5 KiB).</summary>
    public const int MaxDatagram = 2048;

    /// <summary>Datagrams handed to the handler between two <see cref="IDatagramHandler.OnBatchEnd"/> calls, at most.</summary>
    public const int ReceiveBatch = BatchedReceive.Batch;

    private const int SocketBufferBytes = 4 * 1024 * 1024;

    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Thread? _receiver;
    private IDatagramHandler? _handler;
    private SocketAddress? _fallbackDestination;
    private int _disposed;
    private long _sendCalls;

    /// <param name="ipv6Only">An IPv6 socket that leaves IPv4 to another socket on the same port number (a DHT node per family, BEP 32).</param>
    /// <param name="reusePort">
    /// SO_REUSEPORT (Linux): several endpoints, each with its own receive thread, bind the same port, and the kernel
    /// spreads incoming datagrams across them by source address (so one client's datagrams keep to one endpoint).
    /// </param>
    public DatagramEndpoint(IPEndPoint endPoint, ILogger? logger = null, bool ipv6Only = false, bool reusePort = false)
    {
        if (reusePort && !SupportsReusePort) throw new PlatformNotSupportedException("SO_REUSEPORT needs Linux");
        _logger = logger ?? NullLogger.Instance;
        _socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6) _socket.DualMode = !ipv6Only && endPoint.Address.Equals(IPAddress.IPv6Any);
            if (reusePort) LinuxSocketOptions.Enable(_socket, LinuxSocketOptions.SoReusePort);
            _socket.Bind(endPoint);
            // Lets the receive thread notice a stop even where closing a socket does not wake a blocked receive.
            _socket.ReceiveTimeout = 1000;
            // Bursts of uTP packets from many peers; the kernel caps these at its own limits.
            _socket.ReceiveBufferSize = SocketBufferBytes;
            _socket.SendBufferSize = SocketBufferBytes;
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
        LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
    }

    public IPEndPoint LocalEndPoint { get; }

    public AddressFamily AddressFamily => LocalEndPoint.AddressFamily;

    /// <summary>
    /// Whether <see cref="SendMany"/> hands a run of equal-sized datagrams to the kernel as one segmented message (UDP
    /// GSO, Linux 4.18+); turned off with the environment variable APPLIANCE_UDP_GSO=0 (to compare).
    /// </summary>
    public static bool SegmentsSends => BatchedSend.Segmentation;

    /// <summary>Whether endpoints may share a port with <c>reusePort</c>.</summary>
    public static bool SupportsReusePort => OperatingSystem.IsLinux();

    /// <summary>Starts the receive thread; every datagram goes to <paramref name="handler"/>.</summary>
    public void Start(IDatagramHandler handler, string threadName)
    {
        if (_receiver is not null) throw new InvalidOperationException("already started");
        _handler = handler;
        _receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = threadName };
        _receiver.Start();
    }

    /// <summary>Sends asked of the socket: one per datagram, per <see cref="SendMany"/> and per batch (one system call each, as a rule).</summary>
    public long SendCalls => Interlocked.Read(ref _sendCalls);

    /// <summary>Sends one datagram; false when the socket refused it (full buffer, unreachable, closed). Thread-safe.</summary>
    public bool Send(ReadOnlySpan<byte> datagram, SocketAddress destination)
    {
        Interlocked.Increment(ref _sendCalls);
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, destination);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Sends several datagrams to one destination with one <c>sendmmsg</c> (Linux), runs of equal size segmented by the
    /// kernel (<see cref="SegmentsSends"/>); those the socket buffer cannot take are dropped, like a lost packet. The
    /// arrays must live on the pinned object heap (pooled packet buffers).
    /// </summary>
    public void SendMany(ReadOnlySpan<byte[]> datagrams, ReadOnlySpan<int> lengths, SocketAddress destination)
    {
        if (!BatchedSend.IsSupported)
        {
            for (int i = 0; i < datagrams.Length; i++) Send(datagrams[i].AsSpan(0, lengths[i]), destination);
            return;
        }
        Interlocked.Increment(ref _sendCalls);
        BatchedSend.Send(_socket, datagrams, lengths, destination);
    }

    /// <summary>
    /// Sends every datagram of <paramref name="batch"/> to its own destination, with one <c>sendmmsg</c> (Linux); waits
    /// for room in the socket buffer, skips a datagram the kernel refuses. Leaves the batch as it was.
    /// </summary>
    public void Send(DatagramBatch batch)
    {
        if (BatchedSend.IsSupported)
        {
            Interlocked.Increment(ref _sendCalls);
            BatchedSend.Send(_socket, batch);
            return;
        }
        _fallbackDestination ??= new SocketAddress(_socket.AddressFamily);
        for (int i = 0; i < batch.Count; i++)
        {
            var name = batch.Destination(i);
            name.CopyTo(_fallbackDestination.Buffer.Span);
            _fallbackDestination.Size = name.Length;
            Send(batch.Datagram(i), _fallbackDestination);
        }
    }

    private void ReceiveLoop()
    {
        if (BatchedReceive.IsSupported)
        {
            BatchedReceive.Run(_socket, _handler!, _stopping.Token, _logger, LocalEndPoint);
            return;
        }
        ReceiveOneAtATime();
    }

    private void ReceiveOneAtATime()
    {
        var buffer = GC.AllocateUninitializedArray<byte>(MaxDatagram, pinned: true);
        var from = new SocketAddress(_socket.AddressFamily);
        var handler = _handler!;
        while (!_stopping.IsCancellationRequested)
        {
            int length;
            try
            {
                length = _socket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.MessageSize or SocketError.TimedOut or SocketError.WouldBlock)
            {
                continue;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (!_stopping.IsCancellationRequested) UdpLog.ReceiveFailed(_logger, LocalEndPoint, e.Message);
                return;
            }
            try
            {
                handler.OnDatagram(buffer.AsSpan(0, length), from);
                handler.OnBatchEnd();
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
            {
                // A bug on one datagram must not stop the port: drop it, log it, keep serving.
                UdpLog.DatagramFailed(_logger, LocalEndPoint, e.Message);
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _stopping.Cancel();
        _socket.Dispose();
        if (_receiver is not null && _receiver != Thread.CurrentThread) _receiver.Join(TimeSpan.FromSeconds(2));
        _stopping.Dispose();
    }
}
