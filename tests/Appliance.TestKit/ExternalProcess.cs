using System.Diagnostics;
using System.Text;

namespace Appliance.TestKit;

/// <summary>
/// A real external program (aria2c, mktorrent, python3-libtorrent, the appliance binary...) with captured output.
/// Dispose kills the whole process tree, so a failing test never leaves a process behind.
/// </summary>
public sealed class ExternalProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly object _gate = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Done)> _waiters = [];

    private ExternalProcess(Process process) => _process = process;

    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public string StandardOutput { get { lock (_gate) return _stdout.ToString(); } }
    public string StandardError { get { lock (_gate) return _stderr.ToString(); } }
    public string AllOutput => $"--- stdout ---\n{StandardOutput}\n--- stderr ---\n{StandardError}";

    public static ExternalProcess Start(string fileName, IEnumerable<string> arguments, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        if (environment is not null)
            foreach (var (key, value) in environment) info.Environment[key] = value;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var external = new ExternalProcess(process);
        process.OutputDataReceived += (_, e) => external.OnLine(e.Data, external._stdout);
        process.ErrorDataReceived += (_, e) => external.OnLine(e.Data, external._stderr);
        if (!process.Start()) throw new InvalidOperationException($"could not start {fileName}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return external;
    }

    /// <summary>Runs a program to completion (killed after <paramref name="timeout"/>) and returns it for its exit code and output.</summary>
    public static async Task<ExternalProcess> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout,
        string? workingDirectory = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var process = Start(fileName, arguments, workingDirectory, environment);
        await process.WaitForExitAsync(timeout).ConfigureAwait(false);
        return process;
    }

    /// <summary>Waits for exit; on timeout kills the tree and throws with the output so far.</summary>
    public async Task WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"{_process.StartInfo.FileName} did not exit within {timeout}\n{AllOutput}");
        }
    }

    /// <summary>Waits until a line of stdout or stderr matches; throws with the output on timeout or early exit.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            foreach (var line in (_stdout + "\n" + _stderr).Split('\n'))
            {
                if (match(line)) return line;
            }
            _waiters.Add((match, done));
        }
        var exited = _process.WaitForExitAsync();
        var finished = await Task.WhenAny(done.Task, exited, Task.Delay(timeout)).ConfigureAwait(false);
        if (finished == done.Task) return await done.Task.ConfigureAwait(false);
        if (finished == exited)
        {
            await Task.Delay(200).ConfigureAwait(false); // let the last output lines arrive
            if (done.Task.IsCompleted) return await done.Task.ConfigureAwait(false);
            throw new InvalidOperationException($"{_process.StartInfo.FileName} exited with {_process.ExitCode} before the expected line\n{AllOutput}");
        }
        throw new TimeoutException($"{_process.StartInfo.FileName}: expected line not seen within {timeout}\n{AllOutput}");
    }

    /// <summary>Sends SIGTERM (a graceful stop) where the platform has it.</summary>
    public void Terminate()
    {
        if (_process.HasExited) return;
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill?.WaitForExit(5000);
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void OnLine(string? line, StringBuilder sink)
    {
        if (line is null) return;
        lock (_gate)
        {
            sink.AppendLine(line);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line))
                {
                    _waiters[i].Done.TrySetResult(line);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}
