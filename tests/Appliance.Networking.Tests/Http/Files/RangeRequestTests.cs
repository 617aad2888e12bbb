using System.Text;
using Appliance.Networking.Http.Files;

namespace Appliance.Networking.Tests.Http.Files;

public sealed class RangeRequestTests
{
    private static (RangeOutcome Outcome, long Start, long Count) Evaluate(string header, long length)
    {
        var outcome = RangeRequest.Evaluate(Encoding.ASCII.GetBytes(header), length, out long start, out long count);
        return (outcome, start, count);
    }

    [Theory]
    [InlineData("bytes=0-99", 0, 100)]
    [InlineData("bytes=100-199", 100, 100)]
    [InlineData("bytes=999-999", 999, 1)]
    [InlineData("bytes=900-", 900, 100)]
    [InlineData("bytes=0-", 0, 1000)]
    [InlineData("bytes=-10", 990, 10)]
    [InlineData("bytes=-1000", 0, 1000)]
    [InlineData("bytes=-5000", 0, 1000)]
    [InlineData("bytes=500-5000", 500, 500)]
    [InlineData("bytes=0-999999999999999999", 0, 1000)]
    [InlineData("BYTES=1-2", 1, 2)]
    [InlineData(" bytes=1-2 ", 1, 2)]
    [InlineData("bytes= 1-2 ,", 1, 2)]
    [InlineData("bytes=,,3-4", 3, 2)]
    [InlineData("bytes=007-008", 7, 2)]
    public void A_single_satisfiable_range_is_partial_and_clipped_to_the_file(string header, long start, long count) =>
        Assert.Equal((RangeOutcome.Partial, start, count), Evaluate(header, 1000));

    [Theory]
    [InlineData("bytes=1000-")]
    [InlineData("bytes=1000-2000")]
    [InlineData("bytes=5000-5001")]
    [InlineData("bytes=-0")]
    [InlineData("bytes=9223372036854775807-")]
    public void A_range_beyond_the_file_end_is_unsatisfiable(string header) =>
        Assert.Equal(RangeOutcome.Unsatisfiable, Evaluate(header, 1000).Outcome);

    [Theory]
    [InlineData("bytes=")]
    [InlineData("bytes=,")]
    [InlineData("bytes=-")]
    [InlineData("bytes=abc")]
    [InlineData("bytes=1")]
    [InlineData("bytes=5-2")]
    [InlineData("bytes=+1-2")]
    [InlineData("bytes=1-+2")]
    [InlineData("bytes=-+2")]
    [InlineData("bytes=1--2")]
    [InlineData("bytes=1-2-3")]
    [InlineData("bytes=0x10-0x20")]
    [InlineData("bytes=1 - 2")]
    [InlineData("bytes=99999999999999999999-")]
    [InlineData("bytes=0-99999999999999999999")]
    [InlineData("bytes=-99999999999999999999")]
    [InlineData("bytes=0-1,zz")]
    public void A_malformed_byte_range_set_is_rejected_with_416(string header) =>
        Assert.Equal((RangeOutcome.Unsatisfiable, 0, 1000), Evaluate(header, 1000));

    [Theory]
    [InlineData("items=0-5")]
    [InlineData("bytes")]
    [InlineData("")]
    [InlineData("0-5")]
    public void A_range_in_another_unit_is_ignored(string header) =>
        Assert.Equal((RangeOutcome.Whole, 0, 1000), Evaluate(header, 1000));

    [Theory]
    [InlineData("bytes=0-9,20-29")]
    [InlineData("bytes=0-9, 5000-6000")]
    [InlineData("bytes=5000-6000,-1")]
    public void Several_ranges_with_one_satisfiable_get_the_whole_file(string header) =>
        Assert.Equal((RangeOutcome.Whole, 0, 1000), Evaluate(header, 1000));

    [Fact]
    public void Several_unsatisfiable_ranges_are_unsatisfiable() =>
        Assert.Equal(RangeOutcome.Unsatisfiable, Evaluate("bytes=5000-6000,7000-", 1000).Outcome);

    [Theory]
    [InlineData("bytes=0-0")]
    [InlineData("bytes=0-")]
    [InlineData("bytes=-1")]
    public void No_range_of_an_empty_file_is_satisfiable(string header) =>
        Assert.Equal(RangeOutcome.Unsatisfiable, Evaluate(header, 0).Outcome);

    [Fact]
    public void Ranges_near_the_largest_length_do_not_overflow()
    {
        Assert.Equal((RangeOutcome.Partial, long.MaxValue - 1, 1L), Evaluate("bytes=9223372036854775806-9223372036854775807", long.MaxValue));
        Assert.Equal((RangeOutcome.Partial, 0L, long.MaxValue), Evaluate("bytes=-9223372036854775807", long.MaxValue));
    }
}
