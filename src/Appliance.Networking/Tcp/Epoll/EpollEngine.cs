using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Networking.Tcp.Epoll;

/// <summary>
/// Our own readiness engine for connected TCP sockets (Linux): a few loop threads, each waiting on its own epoll
/// descriptor, instead of the runtime's socket engine. The runtime completes a wait on its epoll thread and continues
/// it on a thread-pool thread (a wake-up and a hand-over per receive, and pool threads spinning for work between); here
/// the loop thread that sees readiness makes the syscall and runs the continuation itself, as a hand-written epoll
/// server does. Continuations therefore must not block (<see cref="IsLoopThread"/>): long work goes elsewhere.
/// </summary>
public sealed class EpollEngine : IDisposable
{
    private readonly EpollLoop[] _loops;
    private int _disposed;

    /// <param name="loops">Loop threads; 0 means one per processor.</param>
    public EpollEngine(int loops = 0, ILogger? logger = null)
    {
        if (!IsSupported) throw new PlatformNotSupportedException("the epoll engine needs Linux on x64 or arm64");
        ArgumentOutOfRangeException.ThrowIfNegative(loops);
        int count = loops > 0 ? loops : Math.Max(1, Environment.ProcessorCount);
        _loops = new EpollLoop[count];
        try
        {
            for (int i = 0; i < count; i++) _loops[i] = new EpollLoop($"epoll-{i}", logger ?? NullLogger.Instance);
        }
        catch
        {
            foreach (var loop in _loops) loop?.Dispose();
            throw;
        }
    }

    public static bool IsSupported => EpollNative.IsSupported;

    /// <summary>True on a loop thread (where blocking work would stall every socket of the loop).</summary>
    public static bool IsLoopThread => EpollLoop.IsCurrentThread;

    public int LoopCount => _loops.Length;

    /// <summary>Sockets registered on each loop now.</summary>
    public int SocketsOnLoop(int loop) => _loops[loop].Count;

    /// <summary>
    /// Registers a connected socket with the loop that has the fewest; null when epoll refused it (out of watches, or
    /// the engine stopped), so the caller can serve it another way. The socket is then used only through the result.
    /// </summary>
    public EpollSocket? TryRegister(Socket socket)
    {
        if (Volatile.Read(ref _disposed) != 0) return null;
        var loop = _loops[0];
        for (int i = 1; i < _loops.Length; i++)
        {
            if (_loops[i].Count < loop.Count) loop = _loops[i];
        }
        var registered = new EpollSocket(socket, loop);
        return loop.Add(registered) ? registered : null;
    }

    /// <summary>Stops the loops; sockets still registered then see no more readiness (close them first).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var loop in _loops) loop.Dispose();
    }
}
