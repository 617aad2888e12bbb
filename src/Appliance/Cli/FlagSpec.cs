namespace Appliance.Cli;

/// <summary>One command-line flag and the configuration key it sets (flags are the top layer of configuration).</summary>
public sealed record FlagSpec(string Name, string Key, string Help, string? ValueName = null, string? FixedValue = null, bool Repeatable = false)
{
    public bool TakesValue => ValueName is not null;
}
