using System.Diagnostics;
using System.Runtime.InteropServices;

namespace OpenReplica.LoadTest.External;

/// <summary>
/// One server process the tool started (redis-server, postgres, an etcd member): its output goes to a log file, its
/// start-up is awaited with a bound, and it is stopped, with its children, when disposed or when the tool exits.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    public const int SigInt = 2;
    public const int SigTerm = 15;

    private static readonly TimeSpan GracefulStop = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly int _stopSignal;
    private int _disposed;

    private ServerProcess(string name, string logPath, Process process, StreamWriter log, int stopSignal)
    {
        Name = name;
        LogPath = logPath;
        _process = process;
        _log = log;
        _stopSignal = stopSignal;
    }

    /// <summary>Names the server in messages ("redis-server", "etcd member m1").</summary>
    public string Name { get; }

    public string LogPath { get; }

    /// <summary>
    /// Starts <paramref name="fileName"/> with <paramref name="arguments"/> (passed as they are: no shell, no quoting);
    /// <paramref name="stopSignal"/> is the signal that asks this server for a clean, quick shutdown.
    /// </summary>
    public static ServerProcess Start(string name, string fileName, IEnumerable<string> arguments, string workingDirectory,
        string logPath, int stopSignal = SigTerm)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true, // a server must never read the tool's console
            UseShellExecute = false,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);

        var log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(log, e.Data);
        process.ErrorDataReceived += (_, e) => Append(log, e.Data);
        try
        {
            process.Start();
        }
        catch (Exception e)
        {
            log.Dispose();
            process.Dispose();
            throw new InvalidOperationException($"{name}: could not start {fileName}: {e.Message}", e);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(name, logPath, process, log, stopSignal);
        ExitGuard.Track(server);
        return server;
    }

    /// <summary>
    /// Polls <paramref name="isReady"/> until it returns true; a probe that throws counts as not ready yet. Throws
    /// naming the server and its log when the process exits first or <paramref name="timeout"/> passes.
    /// </summary>
    public async Task WaitUntilReadyAsync(Func<CancellationToken, Task<bool>> isReady, TimeSpan timeout, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        Exception? lastProbeError = null;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} during start-up; see {LogPath}");
            }

            using (var probeTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                probeTimeout.CancelAfter(TimeSpan.FromSeconds(5));
                try
                {
                    if (await isReady(probeTimeout.Token)) return;
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    lastProbeError = e;
                }
            }

            if (clock.Elapsed > timeout)
            {
                var detail = lastProbeError is null ? "" : $" (last probe: {lastProbeError.GetType().Name}: {lastProbeError.Message})";
                throw new TimeoutException($"{Name} was not ready within {timeout.TotalSeconds:0} s{detail}; see {LogPath}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            if (!_process.HasExited)
            {
                // A clean stop first (Redis flushes its append-only file, PostgreSQL checkpoints), then no mercy.
                _ = Kill(_process.Id, _stopSignal);
                using var grace = new CancellationTokenSource(GracefulStop);
                try
                {
                    await _process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    KillTree();
                }
            }
        }
        finally
        {
            ExitGuard.Forget(this);
            _process.Dispose();
            lock (_log) _log.Dispose();
        }
    }

    /// <summary>Last resort, also used when the tool exits without disposing: kills the server and its children.</summary>
    internal void KillTree()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(TimeSpan.FromSeconds(5));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone or never started: nothing left to kill.
        }
    }

    private static void Append(StreamWriter log, string? line)
    {
        if (line is null) return;
        lock (log)
        {
            try
            {
                log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // The last lines of a server that is being stopped may arrive after the log closed.
            }
        }
    }

#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe blocks; this is called once per stop.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
#pragma warning restore SYSLIB1054
}
