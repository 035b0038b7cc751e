using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Quickstart;

/// <summary>
/// Runs the silos as child processes of this executable (<c>Quickstart --silo N ...</c>), each with its own ports and
/// data directory under one temp folder. Children die with us: killed on dispose, on process exit, and (as a
/// last resort, if we are killed with -9) by themselves when their stdin, held by us, closes.
/// </summary>
public sealed class LocalCluster : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly Dictionary<int, Process> _running = [];

    private LocalCluster(string root, IReadOnlyList<SiloSpec> silos)
    {
        Root = root;
        Silos = silos;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
    }

    public string Root { get; }

    public IReadOnlyList<SiloSpec> Silos { get; }

    public int[] GatewayPorts => Silos.Select(s => s.GatewayPort).ToArray();

    public static LocalCluster Create(int silos)
    {
        var root = Path.Combine(Path.GetTempPath(), "openreplica-quickstart", DateTime.Now.ToString("yyyyMMdd-HHmmss") + "-" + Environment.ProcessId);
        var ports = FreePorts(2 * silos);
        var specs = Enumerable.Range(1, silos)
            .Select(n => new SiloSpec(n, ports[2 * (n - 1)], ports[2 * (n - 1) + 1], ports[0], Path.Combine(root, $"silo-{n}")))
            .ToList();
        return new LocalCluster(root, specs);
    }

    public string LogFile(int silo) => Path.Combine(Root, $"silo-{silo}.log");

    /// <summary>Starts silo <paramref name="number"/> and waits until it reports that it is up.</summary>
    public async Task StartAsync(int number)
    {
        var spec = Silos[number - 1];
        Directory.CreateDirectory(spec.DataDirectory);
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(typeof(LocalCluster).Assembly.Location); // started as `dotnet Quickstart.dll`
        }

        foreach (var arg in spec.ToArgs())
        {
            start.ArgumentList.Add(arg);
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new StreamWriter(LogFile(number), append: true) { AutoFlush = true };
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException(
            $"silo {number} exited with code {process.ExitCode} before it was ready; see {LogFile(number)}"));
        lock (_running)
        {
            process.Start();
            _running[number] = process;
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await ready.Task.WaitAsync(StartTimeout);

        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (log)
            {
                log.WriteLine(line);
            }

            if (line == SiloHost.ReadyLine)
            {
                ready.TrySetResult();
            }
        }
    }

    /// <summary>Kills silo <paramref name="number"/> at once (SIGKILL): no shutdown, no flushing.</summary>
    public void Kill(int number)
    {
        lock (_running)
        {
            if (_running.Remove(number, out var process))
            {
                process.Kill(); // SIGKILL
                process.WaitForExit();
                process.Dispose();
            }
        }
    }

    public int? ProcessIdOf(int silo)
    {
        lock (_running)
        {
            return _running.TryGetValue(silo, out var process) ? process.Id : null;
        }
    }

    /// <summary>Which silo runs in the OS process <paramref name="processId"/>, or null.</summary>
    public int? SiloOfProcess(int processId)
    {
        lock (_running)
        {
            foreach (var (number, process) in _running)
            {
                if (process.Id == processId)
                {
                    return number;
                }
            }
        }

        return null;
    }

    public void Dispose() => KillAll();

    private void KillAll()
    {
        lock (_running)
        {
            foreach (var number in _running.Keys.ToList())
            {
                try
                {
                    Kill(number);
                }
                catch (Exception)
                {
                    // Already gone.
                }
            }
        }
    }

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }
}
