namespace Appliance.Cli;

/// <summary>
/// Splits arguments into positionals and flags per a table of <see cref="FlagSpec"/>s. Flag values become
/// configuration key/value pairs so flags, environment and the config file bind through one path.
/// </summary>
public sealed class CommandLine
{
    private CommandLine(List<string> positionals, Dictionary<string, string?> settings, bool help)
    {
        Positionals = positionals;
        Settings = settings;
        HelpRequested = help;
    }

    public IReadOnlyList<string> Positionals { get; }

    /// <summary>Configuration keys set by flags (repeatable flags as Key:0, Key:1, ...).</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; }

    public bool HelpRequested { get; }

    public static CommandLine Parse(IReadOnlyList<string> args, IReadOnlyList<FlagSpec> specs)
    {
        var positionals = new List<string>();
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var counts = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        bool help = false;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg is "-h" or "--help") { help = true; continue; }
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg == "--")
            {
                positionals.Add(arg);
                continue;
            }
            string name = arg;
            string? inline = null;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0) { name = arg[..eq]; inline = arg[(eq + 1)..]; }
            var spec = specs.FirstOrDefault(s => s.Name == name)
                ?? throw new UsageException($"unknown option '{name}'");
            string? value = spec.FixedValue;
            if (spec.TakesValue)
            {
                value = inline ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"option '{name}' needs a value ({spec.ValueName})"));
            }
            else if (inline is not null)
            {
                throw new UsageException($"option '{name}' takes no value");
            }
            if (spec.Repeatable)
            {
                counts.TryGetValue(spec.Key, out int n);
                settings[$"{spec.Key}:{n}"] = value;
                counts[spec.Key] = n + 1;
            }
            else
            {
                settings[spec.Key] = value;
            }
        }
        return new CommandLine(positionals, settings, help);
    }

    public static string FormatHelp(string usage, IReadOnlyList<FlagSpec> specs)
    {
        var text = new System.Text.StringBuilder(usage).AppendLine().AppendLine().AppendLine("Options:");
        foreach (var spec in specs)
        {
            string left = spec.TakesValue ? $"{spec.Name} {spec.ValueName}" : spec.Name;
            text.Append("  ").Append(left.PadRight(34)).AppendLine(spec.Help);
        }
        return text.ToString();
    }
}

/// <summary>Bad command-line usage: printed with the command's help hint, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
