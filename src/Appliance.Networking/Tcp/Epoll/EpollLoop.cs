using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Appliance.Networking.Tcp.Epoll;

/// <summary>
/// One epoll descriptor and the thread that waits on it. Registered sockets live in a table; an event carries the slot
/// and the registration's generation, so an event for a socket removed while the loop handled its batch (or whose slot
/// went to a newer socket) is dropped. The table grows and slots are reused under a lock taken per connect and
/// disconnect, never per event. An eventfd wakes the thread to stop.
/// </summary>
internal sealed unsafe class EpollLoop : IDisposable
{
    private const int Capacity = 256;
    private const ulong WakeData = ulong.MaxValue;

    [ThreadStatic] private static bool t_isLoopThread;

    private readonly int _epoll;
    private readonly int _wake;
    private readonly ILogger _logger;
    private readonly Thread _thread;
    private readonly Lock _tableLock = new();
    private readonly Stack<int> _freeSlots = new();
    private EpollSocket?[] _table = new EpollSocket?[64];
    private int _nextSlot;
    private uint _nextGeneration;
    private int _count;
    private volatile bool _stopping;
    private bool _closed;

    public EpollLoop(string threadName, ILogger logger)
    {
        _logger = logger;
        _epoll = EpollNative.Create();
        if (_epoll < 0) throw new InvalidOperationException("epoll_create1 failed: errno " + Marshal.GetLastPInvokeError());
        _wake = EpollNative.CreateEventFd();
        if (_wake < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            EpollNative.close(_epoll);
            throw new InvalidOperationException("eventfd failed: errno " + errno);
        }
        EpollNative.Control(_epoll, EpollNative.CtlAdd, _wake, EpollNative.In, WakeData);
        _thread = new Thread(Run) { IsBackground = true, Name = threadName };
        _thread.Start();
    }

    /// <summary>True on a loop thread: code there runs other sockets' continuations and must not block.</summary>
    public static bool IsCurrentThread => t_isLoopThread;

    /// <summary>Sockets registered now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Registers <paramref name="socket"/> (EPOLLIN | EPOLLOUT | EPOLLRDHUP, edge-triggered); false when epoll refused it.</summary>
    public bool Add(EpollSocket socket)
    {
        lock (_tableLock)
        {
            if (_closed) return false;
            int slot = _freeSlots.Count > 0 ? _freeSlots.Pop() : _nextSlot++;
            if (slot == _table.Length)
            {
                var grown = new EpollSocket?[_table.Length * 2];
                _table.CopyTo(grown, 0);
                Volatile.Write(ref _table, grown);
            }
            socket.Slot = slot;
            socket.Generation = ++_nextGeneration;
            // Published before the socket is added, so the loop finds it for the first event.
            Volatile.Write(ref _table[slot], socket);
            bool added = false;
            int errno;
            try
            {
                int fd = socket.AddRefDescriptor(ref added);
                errno = fd < 0 ? 9 : EpollNative.Control(_epoll, EpollNative.CtlAdd, fd,
                    EpollNative.In | EpollNative.Out | EpollNative.ReadHangUp | EpollNative.EdgeTriggered, Data(socket));
            }
            finally
            {
                if (added) socket.ReleaseDescriptor();
            }
            if (errno != 0)
            {
                _table[slot] = null;
                _freeSlots.Push(slot);
                return false;
            }
            _count++;
            return true;
        }
    }

    /// <summary>Deregisters <paramref name="socket"/>; called before its descriptor closes.</summary>
    public void Remove(EpollSocket socket)
    {
        lock (_tableLock)
        {
            if (_table[socket.Slot] != socket) return;
            if (!_closed)
            {
                bool added = false;
                try
                {
                    int fd = socket.AddRefDescriptor(ref added);
                    if (fd >= 0) EpollNative.Control(_epoll, EpollNative.CtlDel, fd, 0, 0);
                }
                finally
                {
                    if (added) socket.ReleaseDescriptor();
                }
            }
            _table[socket.Slot] = null;
            _freeSlots.Push(socket.Slot);
            _count--;
        }
    }

    private static ulong Data(EpollSocket socket) => (ulong)socket.Generation << 32 | (uint)socket.Slot;

    private void Run()
    {
        t_isLoopThread = true;
        var events = GC.AllocateUninitializedArray<byte>(Capacity * EpollNative.EventSize, pinned: true);
        byte* first = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(events));
        try
        {
            while (!_stopping)
            {
                int count = EpollNative.Wait(_epoll, first, Capacity, -1);
                if (count < 0)
                {
                    if (-count == EpollNative.EINTR) continue;
                    TcpLog.EpollWaitFailed(_logger, -count);
                    return;
                }
                // Read after the wait: every socket with an event here was published before it was added.
                var table = Volatile.Read(ref _table);
                for (int i = 0; i < count; i++)
                {
                    ulong data = EpollNative.DataAt(first, i);
                    if (data == WakeData) continue;
                    int slot = (int)(uint)data;
                    if ((uint)slot >= (uint)table.Length || Volatile.Read(ref table[slot]) is not { } socket || socket.Generation != (uint)(data >> 32)) continue;
                    try
                    {
                        socket.OnEvents(EpollNative.EventsAt(first, i));
                    }
                    catch (Exception e)
                    {
                        // A continuation's bug must not stop every other socket of this loop.
                        TcpLog.EpollHandlerFailed(_logger, e);
                    }
                }
            }
        }
        finally
        {
            // The kernel writes into the array through the raw pointer, which the GC does not see.
            GC.KeepAlive(events);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        EpollNative.Signal(_wake);
        if (_thread != Thread.CurrentThread) _thread.Join(TimeSpan.FromSeconds(2));
        lock (_tableLock)
        {
            if (_closed) return;
            _closed = true;
            EpollNative.close(_wake);
            EpollNative.close(_epoll);
        }
    }
}
