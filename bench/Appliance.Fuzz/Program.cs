using Appliance.Fuzz;

// appliance-fuzz TARGET            run under afl-fuzz (SharpFuzz's out-of-process loop)
// appliance-fuzz TARGET FILE...    run the target over files, as the corpus regression test does
if (args.Length == 0 || !FuzzTargets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine("usage: Appliance.Fuzz TARGET [FILE...]; targets: " + string.Join(", ", FuzzTargets.All.Keys));
    return 2;
}
if (args.Length > 1)
{
    foreach (var file in args[1..]) target(File.ReadAllBytes(file));
    return 0;
}
SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
{
    // afl-fuzz caps input size (1 MB by default); the stream holds one test case.
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    target(copy.GetBuffer().AsSpan(0, (int)copy.Length));
});
return 0;
