using System.Threading.Tasks.Sources;

namespace Appliance.Networking.Tcp.Epoll;

/// <summary>
/// One direction (receive or send) of an <see cref="EpollSocket"/>: whether readiness was reported since the current
/// attempt began, and at most one parked waiter. Edge-triggered epoll reports a change once, so a report that lands
/// between a syscall's EAGAIN and the park must not be lost: an attempt first clears the state (a full fence), the
/// syscall runs, and the park is a compare-and-swap from that cleared state that fails if a report came meanwhile
/// (the caller then tries again). A report that finds a parked waiter hands it to the reporter to resume.
/// </summary>
internal sealed class Readiness : IValueTaskSource<SocketResult>
{
    private const int Idle = 0;
    private const int Ready = 1;
    private const int Waiting = 2;

    private ManualResetValueTaskSourceCore<SocketResult> _core;

    // Ready at first: the first attempt always tries the syscall.
    private int _state = Ready;

    public Readiness()
    {
        // The reporter is the epoll loop thread: the waiter continues right there, with no hop to another thread.
        _core.RunContinuationsAsynchronously = false;
    }

    /// <summary>Starts an operation that may park: its token. Only while nothing is parked.</summary>
    public short Prepare()
    {
        _core.Reset();
        return _core.Version;
    }

    /// <summary>Forgets readiness reported so far; call right before each non-blocking attempt.</summary>
    public void BeginAttempt() => Interlocked.Exchange(ref _state, Idle);

    /// <summary>After an attempt that would block: parks unless readiness was reported since <see cref="BeginAttempt"/> (then try again).</summary>
    public bool TryPark() => Interlocked.CompareExchange(ref _state, Waiting, Idle) == Idle;

    /// <summary>Readiness (or a close): true when a waiter was parked, which the caller must now resume (retry, then complete or park again).</summary>
    public bool Report() => Interlocked.Exchange(ref _state, Ready) == Waiting;

    /// <summary>Completes the parked operation; its continuation runs on this thread.</summary>
    public void Complete(SocketResult result) => _core.SetResult(result);

    public ValueTask<SocketResult> Parked(short token) => new(this, token);

    SocketResult IValueTaskSource<SocketResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<SocketResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<SocketResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
