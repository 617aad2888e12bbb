using System.Diagnostics;
using Appliance.Protocol.Metainfo;

namespace Appliance.Storage.Resume;

/// <summary>
/// Writes resume files on one background thread, one at a time, after the torrents they describe already serve.
/// A first start of 10,000 small torrents used to create 10,000 files in one folder from every loading thread at once:
/// each creation takes the folder's lock, and the loads spent their time queued on it. Here the load only hands over the
/// state; the file is written later, in the order the torrents were verified.
/// <para>
/// Priority: while a load holds <see cref="HoldForLoad"/> nothing is written, so the writes never compete with
/// verification for the folder's lock, the disk or a core; they start once the load is over. A write that has waited
/// <see cref="MaxDeferral"/> is done anyway (one file at a time, still off the loading threads), so a first start that
/// hashes for hours does not leave every verification unsaved until its end. One torrent has at most one pending write:
/// a newer state replaces the queued one.
/// </para>
/// Nothing here is durable until written: a process killed first loses the pending states, and those torrents are
/// verified again on the next start (<see cref="FlushAsync"/> at a graceful stop writes them).
/// </summary>
public sealed class ResumeWriter : IDisposable
{
    /// <summary>How long a pending write waits for loads to finish before it is done regardless (infinite: until they finish).</summary>
    public static readonly TimeSpan DefaultMaxDeferral = TimeSpan.FromSeconds(30);

    private readonly object _gate = new(); // a monitor: the thread waits on it (Monitor.Wait) for work or for the loads to end
    private readonly Dictionary<InfoHash, Pending> _pending = [];
    private readonly Queue<InfoHash> _order = new(); // may hold info-hashes since forgotten or already written: skipped
    private readonly Thread _thread;
    private int _holds;
    private int _flushes;
    private bool _stopping;
    private bool _writing;
    private long _written;
    private long _failures;
    private TaskCompletionSource? _drained;

    private readonly record struct Pending(ResumeState State, long Since);

    public ResumeWriter(string stateFolder, TimeSpan? maxDeferral = null)
    {
        StateFolder = stateFolder;
        MaxDeferral = maxDeferral ?? DefaultMaxDeferral;
        if (MaxDeferral != Timeout.InfiniteTimeSpan)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(MaxDeferral, TimeSpan.Zero, nameof(maxDeferral));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxDeferral, TimeSpan.FromDays(1), nameof(maxDeferral));
        }
        _thread = new Thread(Run) { IsBackground = true, Name = "resume writer" };
        _thread.Start();
    }

    public string StateFolder { get; }

    public TimeSpan MaxDeferral { get; }

    /// <summary>States waiting to be written, and the one being written.</summary>
    public int PendingCount
    {
        get
        {
            lock (_gate) return _pending.Count + (_writing ? 1 : 0);
        }
    }

    /// <summary>Files written since start.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Writes that failed (the state is dropped: the torrent is verified again on the next start).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Called with the file's path and why, whenever a write fails (the seeder logs it). Runs on the writer's thread.</summary>
    public event Action<string, string>? WriteFailed;

    /// <summary>Queues <paramref name="state"/> for writing; it replaces a state of the same torrent still waiting.</summary>
    public void Enqueue(ResumeState state)
    {
        lock (_gate)
        {
            if (_stopping) return;
            if (_pending.TryGetValue(state.InfoHash, out var queued))
            {
                _pending[state.InfoHash] = queued with { State = state }; // keeps its place and its age
                return;
            }
            _pending.Add(state.InfoHash, new Pending(state, Stopwatch.GetTimestamp()));
            _order.Enqueue(state.InfoHash);
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Drops the torrent's pending write (it stopped seeding); false when none was waiting. A write already under way completes.</summary>
    public bool Forget(InfoHash infoHash)
    {
        lock (_gate)
        {
            return _pending.Remove(infoHash);
        }
    }

    /// <summary>Holds writes back until the returned hold is disposed (holds nest; see the type's remarks for <see cref="MaxDeferral"/>).</summary>
    public LoadHold HoldForLoad()
    {
        lock (_gate) _holds++;
        return new LoadHold(this);
    }

    /// <summary>One load in progress, from <see cref="HoldForLoad"/>. Disposing it twice releases it once.</summary>
    public sealed class LoadHold : IDisposable
    {
        private ResumeWriter? _writer;

        internal LoadHold(ResumeWriter writer) => _writer = writer;

        public void Dispose()
        {
            var writer = Interlocked.Exchange(ref _writer, null);
            if (writer is null) return;
            lock (writer._gate)
            {
                writer._holds--;
                Monitor.PulseAll(writer._gate);
            }
        }
    }

    /// <summary>
    /// Writes everything pending now, holds or not (a graceful stop). Returns how many states were still unwritten when
    /// <paramref name="cancellationToken"/> stopped the wait (0: all written); the writer keeps going in the background.
    /// </summary>
    public async Task<int> FlushAsync(CancellationToken cancellationToken)
    {
        Task drained;
        lock (_gate)
        {
            if (_pending.Count == 0 && !_writing) return 0;
            if (_stopping) return _pending.Count; // disposed: nothing more will be written
            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            drained = _drained.Task;
            _flushes++;
            Monitor.PulseAll(_gate);
        }
        try
        {
            await drained.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            lock (_gate) _flushes--;
        }
        return PendingCount;
    }

    /// <summary>
    /// Stops the thread after the write under way; states still pending are dropped (flush first to keep them). Waits a
    /// few seconds at most for that write: a hung disk must not hang the stop (the thread is a background one).
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping) return;
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
        if (Thread.CurrentThread != _thread) _thread.Join(TimeSpan.FromSeconds(5));
    }

    private void Run()
    {
        while (TryTakeNext(out var state))
        {
            string path = ResumeFile.PathFor(StateFolder, state.InfoHash);
            try
            {
                ResumeFile.Save(StateFolder, state);
                Interlocked.Increment(ref _written);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Interlocked.Increment(ref _failures);
                WriteFailed?.Invoke(path, e.Message);
            }
        }
    }

    /// <summary>Waits for a state that may be written now (see the type's remarks); false once stopping.</summary>
    private bool TryTakeNext(out ResumeState state)
    {
        lock (_gate)
        {
            _writing = false;
            while (true)
            {
                if (_stopping)
                {
                    _drained?.TrySetResult(); // a flush still waiting returns what is left
                    state = null!;
                    return false;
                }
                // Skip info-hashes that were forgotten, or whose state was taken under an earlier place in the queue.
                while (_order.TryPeek(out var head) && !_pending.ContainsKey(head)) _order.Dequeue();
                if (_order.Count == 0)
                {
                    _drained?.TrySetResult();
                    _drained = null;
                    Monitor.Wait(_gate);
                    continue;
                }
                var infoHash = _order.Peek();
                var pending = _pending[infoHash];
                if (_holds > 0 && _flushes == 0)
                {
                    if (MaxDeferral == Timeout.InfiniteTimeSpan)
                    {
                        Monitor.Wait(_gate);
                        continue;
                    }
                    var left = MaxDeferral - Stopwatch.GetElapsedTime(pending.Since);
                    if (left > TimeSpan.Zero)
                    {
                        Monitor.Wait(_gate, left + TimeSpan.FromMilliseconds(1));
                        continue;
                    }
                }
                _order.Dequeue();
                _pending.Remove(infoHash);
                _writing = true;
                state = pending.State;
                return true;
            }
        }
    }
}
