using System.Text;
using Appliance.Logging;
using Microsoft.Extensions.Logging;

namespace Appliance.Tests.Logging;

public sealed class LoggersTests
{
    private static readonly DateTime At = new(2026, 12, 3, 17, 4, 5, 678, DateTimeKind.Utc);

    private static string Line(LogLevel level, string? message, Exception? exception = null, bool colour = false)
    {
        var line = new StringBuilder();
        LogLine.Append(line, At, level, "Appliance.Trackers.Tracker", 7, message, exception, colour);
        return line.ToString();
    }

    [Fact]
    public void A_record_is_one_line_with_utc_timestamp_level_category_and_event_id()
    {
        Assert.Equal("2026-12-03T17:04:05.678Z warn: Appliance.Trackers.Tracker[7] slow disk\n", Line(LogLevel.Warning, "slow disk"));
    }

    [Theory]
    [InlineData(LogLevel.Trace, "trce")]
    [InlineData(LogLevel.Debug, "dbug")]
    [InlineData(LogLevel.Information, "info")]
    [InlineData(LogLevel.Warning, "warn")]
    [InlineData(LogLevel.Error, "fail")]
    [InlineData(LogLevel.Critical, "crit")]
    public void Levels_keep_the_four_letter_names_scripts_grep_for(LogLevel level, string name)
    {
        Assert.Contains($"Z {name}: Appliance", Line(level, "m"), StringComparison.Ordinal);
    }

    [Fact]
    public void Line_breaks_in_the_message_and_the_exception_become_spaces()
    {
        Exception exception;
        try { throw new InvalidOperationException("no\r\nroute"); }
        catch (InvalidOperationException e) { exception = e; }

        string line = Line(LogLevel.Error, "first\nsecond", exception);

        Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(" first second System.InvalidOperationException: no route ", line, StringComparison.Ordinal);
        Assert.Contains(nameof(Line_breaks_in_the_message_and_the_exception_become_spaces), line, StringComparison.Ordinal); // the stack trace
    }

    [Fact]
    public void Colour_wraps_only_the_level()
    {
        Assert.Equal("2026-12-03T17:04:05.678Z \e[33mwarn\e[0m: Appliance.Trackers.Tracker[7] m\n", Line(LogLevel.Warning, "m", colour: true));
    }

    [Fact]
    public void The_factory_drops_records_below_the_configured_level_and_microsoft_categories_below_warning()
    {
        var output = new StringWriter();
        using (var factory = Loggers.Create(LogLevel.Information, output, colour: false))
        {
            ILogger ours = factory.CreateLogger("Appliance.Hosting.Host");
            ILogger microsoft = factory.CreateLogger("Microsoft.Extensions.Something");
            ours.LogDebug("hidden debug");
            ours.LogInformation("shown {Count}", 3);
            microsoft.LogInformation("hidden microsoft info");
            microsoft.LogWarning("shown microsoft warning");
        }

        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.EndsWith(" info: Appliance.Hosting.Host[0] shown 3", lines[0], StringComparison.Ordinal);
        Assert.EndsWith(" warn: Microsoft.Extensions.Something[0] shown microsoft warning", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Generated_log_methods_reach_the_output_with_their_event_id()
    {
        var output = new StringWriter();
        using (var factory = Loggers.Create(LogLevel.Trace, output, colour: false))
            HostLog.ResumeWritesUnflushed(factory.CreateLogger("Appliance.Hosting.ApplianceHost"), 4);

        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn: Appliance\.Hosting\.ApplianceHost\[8\] 4 resume files were not written",
            output.ToString());
    }
}
