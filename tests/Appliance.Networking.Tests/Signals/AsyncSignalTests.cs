using Appliance.Networking.Signals;

namespace Appliance.Networking.Tests.Signals;

public sealed class AsyncSignalTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task SetHere_runs_the_waiter_on_the_setting_thread_before_returning()
    {
        var signal = new AsyncSignal();
        int waiterThread = 0;
        var waiter = Waiter(signal, () => waiterThread = Environment.CurrentManagedThreadId);
        await Task.Run(() =>
        {
            signal.SetHere();
            // The waiter has already run: it did its work on this thread, inside SetHere.
            Assert.Equal(Environment.CurrentManagedThreadId, waiterThread);
        }).WaitAsync(Patience);
        await waiter.WaitAsync(Patience);
    }

    [ThreadStatic] private static bool t_insideSet;

    [Fact]
    public async Task Set_resumes_the_waiter_on_the_thread_pool_not_inside_the_setter()
    {
        var signal = new AsyncSignal();
        bool ranInsideSet = true;
        var waiter = Waiter(signal, () => ranInsideSet = t_insideSet);
        await Task.Run(() =>
        {
            t_insideSet = true;
            try { signal.Set(); }
            finally { t_insideSet = false; }
        }).WaitAsync(Patience);
        await waiter.WaitAsync(Patience);
        Assert.False(ranInsideSet);
    }

    [Fact]
    public async Task A_set_before_the_wait_is_remembered_once_either_way()
    {
        var signal = new AsyncSignal();
        signal.SetHere();
        signal.SetHere();
        Assert.True(signal.WaitAsync().IsCompleted);
        Assert.False(signal.WaitAsync().IsCompleted);
        signal.SetHere();
        await Task.CompletedTask;
    }

    private static async Task Waiter(AsyncSignal signal, Action work)
    {
        await signal.WaitAsync().ConfigureAwait(false);
        work();
    }
}
