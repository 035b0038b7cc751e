using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Hosting;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// Appends OpenReplica's own log lines (Debug and up) to the file named by OPENREPLICA_TEST_LOG, when set: a way to
/// see what the rebalancer and the roster did in a test that failed.
/// </summary>
internal sealed class FileLoggerProvider(string path, Func<string> silo) : ILoggerProvider
{
    public FileLoggerProvider(string path, string silo)
        : this(path, () => silo)
    {
    }

    private static readonly Lock Gate = new();

    public static string? PathFromEnvironment => Environment.GetEnvironmentVariable("OPENREPLICA_TEST_LOG");

    /// <summary>With OPENREPLICA_TEST_LOG set, the silo also logs OpenReplica's lines (Debug and up) to that file.</summary>
    public static void AddTo(ISiloBuilder silo)
    {
        if (PathFromEnvironment is not { } log) return;
        // The silo's name is read at the first line logged, not while the logger factory is being built (the silo's
        // details are resolved through the factory's own dependencies: resolving them here hung the silo's start).
        silo.Services.AddSingleton<ILoggerProvider>(sp => new FileLoggerProvider(log, () => sp.GetRequiredService<ILocalSiloDetails>().Name));
        silo.Services.AddLogging(l => l.SetMinimumLevel(LogLevel.Debug));
    }

    private readonly Lazy<string> _silo = new(silo);

    public ILogger CreateLogger(string categoryName) => new FileLogger(path, _silo, categoryName);

    public void Dispose()
    {
    }

    private sealed class FileLogger(string path, Lazy<string> silo, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        // OpenReplica's lines from Debug; Orleans' own (membership, gateways, messaging) from Information.
        public bool IsEnabled(LogLevel logLevel) => category.StartsWith("OpenReplica", StringComparison.Ordinal)
            ? logLevel >= LogLevel.Debug
            : logLevel >= LogLevel.Information && category.StartsWith("Orleans", StringComparison.Ordinal);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            string line = $"{DateTime.UtcNow:HH:mm:ss.fff} {silo.Value} {logLevel} {category[(category.LastIndexOf('.') + 1)..]}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.GetType().Name + ": " + exception.Message)}{Environment.NewLine}";
            lock (Gate) File.AppendAllText(path, line);
        }
    }
}
