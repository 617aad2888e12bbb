using Appliance.Storage.Files;

namespace Appliance.Storage.Mapping;

/// <summary>
/// The calling thread's major page faults (faults that waited for the disk): a send from a mapping that raises this
/// count read a cold page inside sendmsg. One getrusage(RUSAGE_THREAD) per call, no allocation.
/// </summary>
public static class MajorFaults
{
    public static long OfCurrentThread() => Libc.getrusage(Libc.RusageThread, out var usage) == 0 ? usage.MajorFaults : 0;
}
