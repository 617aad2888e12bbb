namespace Appliance.Storage.Pool;

/// <summary>
/// Runs <see cref="FilePool.ReleaseIdlePages"/> every <c>interval</c> on a timer, so the seeder's resident set holds the
/// content chunks sends touched in the last two intervals, not every page it ever served. A tick that finds the previous
/// one still running is skipped.
/// </summary>
public sealed class MappedPageReleaser : IDisposable
{
    private readonly FilePool _pool;
    private readonly Timer _timer;
    private int _running;

    public MappedPageReleaser(FilePool pool, TimeSpan interval)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _pool = pool;
        _timer = new Timer(static state => ((MappedPageReleaser)state!).Tick(), this, interval, interval);
    }

    private void Tick()
    {
        if (Interlocked.Exchange(ref _running, 1) == 1) return;
        try
        {
            _pool.ReleaseIdlePages();
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    public void Dispose() => _timer.Dispose();
}
