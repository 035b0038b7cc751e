using System.Diagnostics;
using System.Globalization;

namespace OpenReplica.LoadTest;

/// <summary>
/// One silo in a child process: this tool run again with the <c>silo</c> subcommand (see <see cref="SiloCommand"/>).
/// Start-up is bounded; the child's stdin stays open for as long as we want it alive; <see cref="Kill"/> is a real
/// kill -9 of the process.
/// </summary>
internal sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<string> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _statsGate = new(1, 1);
    private readonly Lock _lock = new();
    private readonly Queue<string> _stderrTail = new();
    private TaskCompletionSource<ConsensusTraffic>? _stats;
    private readonly TaskCompletionSource<string> _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SiloProcess(Process process) => _process = process;

    public string Address { get; private set; } = "";
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    public static async Task<SiloProcess> StartAsync(IEnumerable<string> siloArguments, TimeSpan bound, CancellationToken cancellationToken,
        Action<ProcessStartInfo>? customize = null)
    {
        var psi = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The running tool's own assembly: the load tool, or the chaos tool that reuses this class and hosts its own grains.
        psi.ArgumentList.Add((System.Reflection.Assembly.GetEntryAssembly() ?? typeof(SiloProcess).Assembly).Location);
        psi.ArgumentList.Add("silo");
        foreach (var a in siloArguments) psi.ArgumentList.Add(a);
        customize?.Invoke(psi);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start a silo process");
        ChildProcesses.Track(process);
        var silo = new SiloProcess(process);
        process.OutputDataReceived += (_, e) => silo.OnOutput(e.Data);
        process.ErrorDataReceived += (_, e) => silo.OnError(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => silo._ready.TrySetException(new InvalidOperationException($"silo process {process.Id} exited during start-up: {silo.StderrTail()}"));
        try
        {
            silo.Address = await silo._ready.Task.WaitAsync(bound, cancellationToken);
        }
        catch (Exception e)
        {
            silo.Kill();
            throw e is TimeoutException ? new TimeoutException($"silo process did not start within {bound.TotalSeconds:0} s: {silo.StderrTail()}") : e;
        }
        return silo;
    }

    /// <summary>The counters of the silo's <c>ReplicaTransport</c>; zeros from a dead or silent silo.</summary>
    public async Task<ConsensusTraffic> ConsensusMessagesAsync()
    {
        if (_process.HasExited) return ConsensusTraffic.None;
        await _statsGate.WaitAsync();
        try
        {
            var pending = new TaskCompletionSource<ConsensusTraffic>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock) _stats = pending;
            await _process.StandardInput.WriteLineAsync("stats");
            await _process.StandardInput.FlushAsync();
            return await pending.Task.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
            return ConsensusTraffic.None;
        }
        finally
        {
            _statsGate.Release();
        }
    }

    /// <summary>
    /// Orleans' graceful shutdown of the silo (its replicas hand their groups over first), then the process exits.
    /// Returns the silo's own report (<c>&lt;ms&gt; ok</c>, or the exception that ended the stop); a silo that has not
    /// exited within <paramref name="bound"/> is killed and reported as such.
    /// </summary>
    public async Task<string> StopGracefullyAsync(TimeSpan bound)
    {
        if (_process.HasExited) return "had already exited";
        try
        {
            await _process.StandardInput.WriteLineAsync("stop");
            await _process.StandardInput.FlushAsync();
            string report = await _stopped.Task.WaitAsync(bound);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            return report;
        }
        catch (Exception e) when (e is TimeoutException or IOException or InvalidOperationException)
        {
            Kill();
            return $"killed: no graceful stop within {bound.TotalSeconds:0} s ({e.GetType().Name})";
        }
    }

    /// <summary>kill -9 of the silo process (no goodbye to membership, sockets reset by the kernel).</summary>
    public void Kill()
    {
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
    }

    public async ValueTask DisposeAsync()
    {
        // Closing stdin makes the silo exit by itself; kill whatever is left after a short grace period.
        try { _process.StandardInput.Close(); } catch { }
        try { await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(3)); } catch { }
        Kill();
        _process.Dispose();
    }

    private void OnOutput(string? line)
    {
        if (line is null) return;
        if (line.StartsWith(SiloCommand.Ready + " ", StringComparison.Ordinal))
        {
            _ready.TrySetResult(line[(SiloCommand.Ready.Length + 1)..]);
        }
        else if (line.StartsWith(SiloCommand.Stopped + " ", StringComparison.Ordinal))
        {
            _stopped.TrySetResult(line[(SiloCommand.Stopped.Length + 1)..]);
        }
        else if (line.StartsWith(SiloCommand.Stats + " ", StringComparison.Ordinal))
        {
            var parts = line.Split(' ');
            TaskCompletionSource<ConsensusTraffic>? pending;
            lock (_lock) (pending, _stats) = (_stats, null);
            pending?.TrySetResult(new ConsensusTraffic(long.Parse(parts[1], CultureInfo.InvariantCulture), long.Parse(parts[3], CultureInfo.InvariantCulture), long.Parse(parts[2], CultureInfo.InvariantCulture)));
        }
    }

    private void OnError(string? line)
    {
        if (line is null) return;
        lock (_lock)
        {
            _stderrTail.Enqueue(line);
            if (_stderrTail.Count > 20) _stderrTail.Dequeue();
        }
    }

    private string StderrTail()
    {
        lock (_lock) return _stderrTail.Count == 0 ? "(no output on stderr)" : string.Join(" | ", _stderrTail);
    }

    /// <summary>The <c>dotnet</c> host: this process's when it is one, else the one on PATH.</summary>
    internal static string DotnetHost() =>
        Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
}
