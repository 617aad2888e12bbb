namespace Appliance.TestKit;

/// <summary>
/// Waits for a value that another thread settles a moment after the event a test observed (a counter bumped after
/// the socket closed, bytes counted after the send returned). A loaded machine may preempt that thread for a while,
/// so the bound is generous; the wait ends as soon as the value is right.
/// </summary>
public static class Eventually
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>The value once it equals <paramref name="expected"/>, or whatever it is when the bound runs out.</summary>
    public static async Task<T> SettledAsync<T>(T expected, Func<T> actual)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!EqualityComparer<T>.Default.Equals(actual(), expected) && DateTime.UtcNow < deadline) await Task.Delay(10);
        return actual();
    }
}
