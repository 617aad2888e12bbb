using System.Diagnostics;
using Appliance.Protocol.PeerWire;
using Appliance.Storage;

namespace Appliance.Seeding.Upload;

/// <summary>A peer whose next queued block is not in the page cache, waiting for a reader to bring it in.</summary>
internal interface IReadAheadWaiter
{
    /// <summary>Copies the first queued requests (oldest first) into <paramref name="destination"/>; returns how many.</summary>
    int CopyQueued(Span<BlockRequest> destination);

    /// <summary>The read ended (the head block is cached, or could not be read): the peer's send loop may go on.</summary>
    void ReadAheadDone();
}

/// <summary>
/// Reads for queued blocks found cold, on threads of their own, so a send from a mapping only touches cached pages
/// and a slow disk never holds a thread that sends other peers' cached blocks. A read advises the kernel of the
/// waiting peer's queued blocks (POSIX_FADV_WILLNEED: the disk gets all of them at once, no more than was asked
/// for), then waits for the first with a positional read, which also times the disk. A reader that takes a job also
/// advises every job still queued behind it, so the disk has every waiting peer's reads, not one per thread. Each
/// peer has at most one read here at a time. Allocates nothing per read in steady state.
/// </summary>
internal sealed class ReadAheadPool : IDisposable
{
    /// <summary>
    /// Queued blocks advised per read: two send batches, so the disk is already reading the batch after the one the peer
    /// waits for (served 4-7% more from a cold 16 GiB torrent than one batch, in three paired runs).
    /// </summary>
    public const int AdviseBlocks = 2 * SendBatch.MaxBlocks;

    private readonly SeedingCounters _counters;
    private readonly object _lock = new(); // Monitor: the readers wait on it
    private readonly Thread?[] _threads;
    private Job[] _jobs = new Job[64];
    private int _head;
    private int _count;
    private bool _stopping;
    private bool _held; // tests: reads wait, to show what happens while the disk is slow

    private struct Job
    {
        public PieceStore Store;
        public IReadAheadWaiter Waiter;
        public long FoundAt;
        public bool Advised; // another reader already advised its blocks
    }

    public ReadAheadPool(int threads, SeedingCounters counters)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _counters = counters;
        _threads = new Thread?[threads];
    }

    public int Threads => _threads.Length;

    // Started with the first cold block, so a server whose content stays cached never runs them.
    private void StartThreads()
    {
        for (int i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = "read-ahead " + i };
            _threads[i]!.Start();
        }
    }

    /// <summary>Queues a read for <paramref name="waiter"/>'s queued blocks; the caller makes sure it has one at a time.</summary>
    public void Submit(PieceStore store, IReadAheadWaiter waiter)
    {
        _counters.ReadAheadStarted();
        lock (_lock)
        {
            if (!_stopping)
            {
                if (_threads[0] is null) StartThreads();
                // Grows only with the number of peers waiting at once (one job each), so rarely and never in steady state.
                if (_count == _jobs.Length) Grow();
                _jobs[(_head + _count) % _jobs.Length] = new Job { Store = store, Waiter = waiter, FoundAt = Stopwatch.GetTimestamp() };
                _count++;
                Monitor.Pulse(_lock);
                return;
            }
        }
        waiter.ReadAheadDone(); // stopped: outside the lock, as the waiter takes its own
    }

    private void Grow()
    {
        var jobs = new Job[_jobs.Length * 2];
        for (int i = 0; i < _count; i++) jobs[i] = _jobs[(_head + i) % _jobs.Length];
        _jobs = jobs;
        _head = 0;
    }

    private void Run()
    {
        var queued = new BlockRequest[AdviseBlocks];
        var buffer = new byte[SeedingOptions.HardMaxRequestLength];
        var waitingJobs = new Job[MaxAdvisedAhead];
        while (true)
        {
            Job job;
            int ahead = 0;
            lock (_lock)
            {
                while ((_count == 0 || _held) && !_stopping) Monitor.Wait(_lock);
                if (_count == 0) return;
                job = _jobs[_head];
                _jobs[_head] = default;
                _head = (_head + 1) % _jobs.Length;
                _count--;
                // Peers still waiting for a reader get their blocks advised now, so the disk works on their reads too
                // while every reader waits on one: reads in flight are not bounded by the threads.
                for (int i = 0; i < _count && ahead < waitingJobs.Length; i++)
                {
                    ref var waiting = ref _jobs[(_head + i) % _jobs.Length];
                    if (waiting.Advised) continue;
                    waiting.Advised = true;
                    waitingJobs[ahead++] = waiting;
                }
            }
            try
            {
                if (!job.Advised) Advise(job, queued);
                for (int i = 0; i < ahead; i++) Advise(waitingJobs[i], queued);
                WaitForHead(job, queued, buffer);
            }
            catch (Exception e) when (e is ObjectDisposedException or IOException)
            {
                // The torrent went away meanwhile: the send path finds out and reports it.
            }
            finally
            {
                waitingJobs.AsSpan(0, ahead).Clear();
                job.Waiter.ReadAheadDone();
            }
        }
    }

    /// <summary>Jobs still queued that one reader advises before it waits on its own.</summary>
    private const int MaxAdvisedAhead = 256;

    // Tells the kernel about the peer's first queued blocks (POSIX_FADV_WILLNEED returns once the reads are submitted).
    private void Advise(Job job, BlockRequest[] queued)
    {
        int count = job.Waiter.CopyQueued(queued);
        if (count == 0) return;
        // Contiguous blocks of a piece (peers ask for a piece's blocks in order) are advised as one range.
        long advised = 0;
        var run = queued[0];
        int runLength = run.Length;
        for (int i = 1; i <= count; i++)
        {
            if (i < count && queued[i].Piece == run.Piece && queued[i].Begin == run.Begin + runLength && runLength <= int.MaxValue - queued[i].Length)
            {
                runLength += queued[i].Length;
                continue;
            }
            job.Store.AdviseWillNeed(run.Piece, run.Begin, runLength);
            advised += runLength;
            if (i < count)
            {
                run = queued[i];
                runLength = run.Length;
            }
        }
        _counters.ReadAheadAdvised(advised);
    }

    // Waits for the peer's first queued block; a short read (a truncated file) faults the store, which the send path reports.
    private void WaitForHead(Job job, BlockRequest[] queued, byte[] buffer)
    {
        if (job.Waiter.CopyQueued(queued.AsSpan(0, 1)) == 0) return;
        var head = queued[0];
        if (head.Length <= buffer.Length && job.Store.TryReadBlock(head.Piece, head.Begin, buffer.AsSpan(0, head.Length)))
            _counters.ReadAheadLatency.RecordTicks(Stopwatch.GetTimestamp() - job.FoundAt);
    }

    /// <summary>For tests: while held, reads are queued but not started (a disk that does not answer).</summary>
    internal void Hold(bool held)
    {
        lock (_lock)
        {
            _held = held;
            Monitor.PulseAll(_lock);
        }
    }

    public void Dispose()
    {
        Job[] left;
        int count, head;
        lock (_lock)
        {
            if (_stopping) return;
            _stopping = true;
            left = _jobs;
            count = _count;
            head = _head;
            _count = 0;
            Monitor.PulseAll(_lock);
        }
        for (int i = 0; i < count; i++) left[(head + i) % left.Length].Waiter.ReadAheadDone();
        // Readers finish the read they are waiting on; a disk that hangs holds shutdown 5 s at most (they are background threads).
        long deadline = Environment.TickCount64 + 5000;
        foreach (var thread in _threads) thread?.Join(TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64)));
    }
}
