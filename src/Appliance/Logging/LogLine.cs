using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Appliance.Logging;

/// <summary>
/// One log record as one line: <c>2026-12-03T17:00:00.000Z info: Category[7] message exception</c>. The layout of
/// Microsoft's simple console formatter in single-line mode (scripts grep for <c>warn:</c>, <c>fail:</c>, <c>crit:</c>):
/// line breaks inside the message and the exception's text, stack trace included, become spaces.
/// </summary>
public static class LogLine
{
    public static void Append(StringBuilder line, DateTime utc, LogLevel level, string category, int eventId, string? message,
        Exception? exception, bool colour)
    {
        line.Append(utc.ToString("yyyy-MM-ddTHH:mm:ss.fff", CultureInfo.InvariantCulture)).Append("Z ");
        if (colour) line.Append(Colour(level)).Append(Name(level)).Append("\e[0m");
        else line.Append(Name(level));
        line.Append(": ").Append(category).Append('[').Append(eventId).Append(']');
        if (message is not null) AppendFlattened(line.Append(' '), message);
        if (exception is not null) AppendFlattened(line.Append(' '), exception.ToString());
        line.Append('\n');
    }

    public static string Name(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => throw new ArgumentOutOfRangeException(nameof(level)),
    };

    private static string Colour(LogLevel level) => level switch
    {
        LogLevel.Information => "\e[32m",
        LogLevel.Warning => "\e[33m",
        LogLevel.Error or LogLevel.Critical => "\e[1;37;41m",
        _ => "\e[90m",
    };

    private static void AppendFlattened(StringBuilder line, string text)
    {
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c != '\n' && c != '\r') continue;
            line.Append(text, start, i - start).Append(' ');
            if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
            start = i + 1;
        }
        line.Append(text, start, text.Length - start);
    }
}
