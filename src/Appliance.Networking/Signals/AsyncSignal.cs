using System.Threading.Tasks.Sources;

namespace Appliance.Networking.Signals;

/// <summary>
/// An allocation-free auto-reset event for one waiter at a time (a peer session's send loop, a uTP reader or writer) and any number of setters.
/// A set with no waiter is remembered once. The waiter is resumed on the thread pool through this object as an
/// <see cref="IThreadPoolWorkItem"/> (queueing a delegate, as ManualResetValueTaskSourceCore does when asked to run
/// continuations asynchronously, allocates a work item per wake-up), so <see cref="Set"/> never runs the waiter inline.
/// <see cref="SetHere"/> runs it on the caller's thread instead, for a caller that holds no lock and is itself a pool
/// thread with nothing better to do (a peer session's receive loop, which just queued requests): that saves waking a
/// second thread for every batch of requests.
/// </summary>
public sealed class AsyncSignal : IValueTaskSource, IThreadPoolWorkItem
{
    private const int Idle = 0;
    private const int Signaled = 1;
    private const int Waiting = 2;

    private ManualResetValueTaskSourceCore<bool> _core;
    private int _state;

    public ValueTask WaitAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Signaled) == Signaled) return default;
        _core.Reset();
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) == Signaled)
        {
            Volatile.Write(ref _state, Idle);
            return default;
        }
        return new ValueTask(this, _core.Version);
    }

    public void Set() => Set(inline: false);

    /// <summary>Like <see cref="Set"/>, but a waiting waiter runs now, on this thread, until its next wait.</summary>
    public void SetHere() => Set(inline: true);

    private void Set(bool inline)
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if (state == Signaled) return;
            if (state == Idle)
            {
                if (Interlocked.CompareExchange(ref _state, Signaled, Idle) == Idle) return;
                continue;
            }
            if (Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
            {
                if (inline) _core.SetResult(true);
                else ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return;
            }
        }
    }

    void IThreadPoolWorkItem.Execute() => _core.SetResult(true);

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);
    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
