namespace Appliance.TestKit;

/// <summary>
/// Bytes allocated on the calling thread by a piece of work, for zero-allocation tests. The runtime itself allocates now
/// and then on a thread that runs managed code (tiered recompilation and on-stack replacement of a hot loop, whose
/// timing depends on how busy the machine is), so the work runs in several windows and the quietest one counts: a real
/// allocation in the code under test shows in every window.
/// </summary>
public static class ThreadAllocations
{
    public static long Quietest(Action work, int windows = 5)
    {
        long quietest = long.MaxValue;
        for (int i = 0; i < windows && quietest > 0; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            work();
            quietest = Math.Min(quietest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return quietest;
    }
}
