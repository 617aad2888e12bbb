namespace Appliance.Storage.Tests;

/// <summary>
/// A file truncated under a live mapping must not crash the process. Run in a child process, so that if the
/// design's assumption (the kernel answers EFAULT, not SIGBUS, when a send reads a vanished page) were wrong
/// on some kernel, this test fails instead of killing the test host.
/// </summary>
public sealed class SigbusSafetyTests
{
    [Fact]
    public async Task Sending_segments_of_a_file_truncated_under_the_mapping_fails_with_EFAULT_and_the_process_survives()
    {
        using var child = await ChildProcess.RunAsync(ChildProcess.TruncateThenSend, TimeSpan.FromSeconds(60));
        Assert.True(child.ExitCode == 0, $"child exited with {child.ExitCode}\n{child.AllOutput}");
        string output = child.StandardOutput;
        Assert.Contains("sync send: Fault", output, StringComparison.Ordinal);
        Assert.Contains("async send: Fault", output, StringComparison.Ordinal);
        Assert.Contains("faulted: sending a block failed: Fault", output, StringComparison.Ordinal);
        Assert.Contains("segments after fault: False", output, StringComparison.Ordinal);
        Assert.EndsWith("survived", output.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_evicted_from_the_pool_reopened_and_then_truncated_fails_the_send_with_EFAULT_and_the_process_survives()
    {
        using var child = await ChildProcess.RunAsync(ChildProcess.ReopenTruncateThenSend, TimeSpan.FromSeconds(60));
        Assert.True(child.ExitCode == 0, $"child exited with {child.ExitCode}\n{child.AllOutput}");
        string output = child.StandardOutput;
        Assert.Contains("reopened: True", output, StringComparison.Ordinal);
        Assert.Contains("send: Fault", output, StringComparison.Ordinal);
        Assert.Contains("faulted: sending a block failed: Fault", output, StringComparison.Ordinal);
        Assert.EndsWith("survived", output.TrimEnd(), StringComparison.Ordinal);
    }
}
