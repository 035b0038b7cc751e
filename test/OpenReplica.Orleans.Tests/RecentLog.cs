using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Hosting;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The last lines a fault cluster's silos logged (OpenReplica's from Debug, everything else from Warning), written to
/// the test's output when the cluster is disposed. The test runner shows a test's output only when it fails, so a
/// failure in CI, which leaves no files behind, comes with what the silos did just before it (campaigns, activations,
/// log failures) instead of an exception alone.
/// </summary>
internal sealed class RecentLog
{
    private const int Capacity = 400;

    private readonly ConcurrentQueue<string> _lines = new();
    private long _dropped;

    /// <summary>Makes the silo log into this buffer.</summary>
    public void AddTo(ISiloBuilder silo)
    {
        silo.Services.AddSingleton<ILoggerProvider>(sp => new Provider(this, new Lazy<string>(() => sp.GetRequiredService<ILocalSiloDetails>().Name)));
        // Debug for OpenReplica's categories, Warning for the rest, on this provider. The factory's minimum level must
        // let Debug through too: with the default (Information) the provider-specific rule alone was not enough.
        silo.Services.AddLogging(l => l.SetMinimumLevel(LogLevel.Debug)
            .AddFilter<Provider>("OpenReplica", LogLevel.Debug).AddFilter<Provider>(null, LogLevel.Warning));
    }

    /// <summary>Whether a line still held contains <paramref name="text"/>.</summary>
    public bool Contains(string text) => _lines.Any(line => line.Contains(text, StringComparison.Ordinal));

    /// <summary>Writes the buffered lines to the current test's output (shown only if the test fails).</summary>
    public void WriteToTestOutput()
    {
        if (TestContext.Current.TestOutputHelper is not { } output) return;
        long dropped = Interlocked.Read(ref _dropped);
        output.WriteLine($"--- the silos' last {_lines.Count} log lines ({dropped} earlier ones not kept) ---");
        foreach (string line in _lines) output.WriteLine(line);
    }

    private void Add(string line)
    {
        _lines.Enqueue(line);
        while (_lines.Count > Capacity && _lines.TryDequeue(out _)) Interlocked.Increment(ref _dropped);
    }

    private sealed class Provider(RecentLog log, Lazy<string> silo) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(log, silo, categoryName[(categoryName.LastIndexOf('.') + 1)..]);

        public void Dispose()
        {
        }
    }

    private sealed class Logger(RecentLog log, Lazy<string> silo, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None; // the filters above choose

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string text = formatter(state, exception);
            if (text.Length > 400) text = text[..400] + "…";
            log.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {silo.Value} {logLevel} {category}: {text}{(exception is null ? "" : " " + exception.GetType().Name + ": " + exception.Message)}");
        }
    }
}
