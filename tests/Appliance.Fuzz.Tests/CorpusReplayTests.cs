namespace Appliance.Fuzz.Tests;

/// <summary>
/// The fuzzers' corpora (bench/Appliance.Fuzz/corpus/TARGET) and the inputs that once broke a parser
/// (bench/Appliance.Fuzz/findings/TARGET) run through the same targets as <c>make fuzz</c>: none may throw.
/// </summary>
public sealed class CorpusReplayTests
{
    private static IEnumerable<string> Files(string kind, string target)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, kind, target);
        return Directory.Exists(folder) ? Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal) : [];
    }

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string target in FuzzTargets.All.Keys)
        {
            foreach (string kind in new[] { "corpus", "findings" })
            {
                foreach (string file in Files(kind, target)) data.Add(target, Path.GetRelativePath(AppContext.BaseDirectory, file));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Every_corpus_and_finding_input_is_answered_without_an_exception(string target, string file)
    {
        FuzzTargets.All[target](File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, file)));
    }

    [Fact]
    public void Every_target_has_a_corpus()
    {
        foreach (string target in FuzzTargets.All.Keys) Assert.NotEmpty(Files("corpus", target));
    }
}
