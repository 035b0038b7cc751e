using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using OpenReplica.Storage;

namespace OpenReplica.Benchmarks;

/// <summary>
/// Appends/s of the write-ahead log with group commit versus fsync-per-append (the same log with
/// MaxBatchRecords = 1), at 1, 16 and 256 concurrent appenders, on a real temp directory.
///   dotnet run -c Release --project test/Benchmarks/Micro -- --filter '*WalAppend*'
/// </summary>
[Config(typeof(WalAppendConfig))]
public class WalAppendBenchmarks
{
    private const int AppendsPerInvoke = 1024;

    private ScratchDirectory _scratch = null!;
    private WriteAheadLog _wal = null!;
    private CountingFileSystem _fs = null!;
    private WalRecord[] _records = [];
    private long _appends;

    [Params(1, 16, 256)]
    public int Appenders { get; set; }

    [Params(CommitMode.GroupCommit, CommitMode.FsyncPerAppend)]
    public CommitMode Mode { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _scratch = new ScratchDirectory("walbench");
        _fs = new CountingFileSystem(PhysicalFileSystem.Instance);
        _wal = WriteAheadLog.Open(new WalOptions
        {
            Directory = _scratch.Path,
            FileSystem = _fs,
            MaxBatchRecords = Mode == CommitMode.GroupCommit ? 4096 : 1,
        });
        // A typical accept: a small command payload for one of many grains.
        _records = Enumerable.Range(0, Appenders)
            .Select(a => new WalRecord($"grain-{a}", WalRecordKind.Accept, 1, 1, 1, new byte[128]))
            .ToArray();
    }

    [Benchmark(OperationsPerInvoke = AppendsPerInvoke)]
    public Task Append()
    {
        int each = AppendsPerInvoke / Appenders;
        _appends += each * Appenders;
        return Task.WhenAll(_records.Select(record => Task.Run(async () =>
        {
            for (int i = 0; i < each; i++)
            {
                await _wal.AppendAsync(record with { Slot = i });
            }
        })));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _wal.DisposeAsync().AsTask().GetAwaiter().GetResult();
        FsyncColumns.Record($"{Appenders}/{Mode}", _fs.FileFsyncs / (double)_appends);
        _scratch.Dispose();
    }

    public enum CommitMode
    {
        GroupCommit,
        FsyncPerAppend,
    }

    private sealed class WalAppendConfig : ManualConfig
    {
        public WalAppendConfig()
        {
            // In-process, so the fsync counts gathered by the benchmark reach the columns below; short, because
            // fsync-per-append at one appender is slow by design.
            AddJob(Job.Default
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithLaunchCount(1)
                .WithWarmupCount(1)
                .WithIterationCount(5)
                .WithInvocationCount(1)
                .WithUnrollFactor(1));
            AddColumn(StatisticColumn.OperationsPerSecond, new FsyncColumns(perAppend: true), new FsyncColumns(perAppend: false));
        }
    }

    /// <summary>fsyncs per append (measured) and fsyncs/s (appends/s times fsyncs per append).</summary>
    private sealed class FsyncColumns(bool perAppend) : IColumn
    {
        private static readonly Dictionary<string, double> PerAppend = [];

        public static void Record(string key, double fsyncsPerAppend)
        {
            lock (PerAppend)
            {
                PerAppend[key] = fsyncsPerAppend;
            }
        }

        public string Id => perAppend ? "FsyncsPerAppend" : "FsyncsPerSecond";

        public string ColumnName => perAppend ? "Fsyncs/append" : "Fsyncs/s";

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Custom;

        public int PriorityInCategory => perAppend ? 0 : 1;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => perAppend ? "fsyncs issued per append" : "fsyncs per second";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            string key = $"{benchmarkCase.Parameters["Appenders"]}/{benchmarkCase.Parameters["Mode"]}";
            double ratio;
            lock (PerAppend)
            {
                if (!PerAppend.TryGetValue(key, out ratio))
                {
                    return "?";
                }
            }

            if (perAppend)
            {
                return ratio.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);
            }

            double? meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
            return meanNs is > 0 ? (ratio * 1e9 / meanNs.Value).ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : "?";
        }

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }

    /// <summary>Counts file fsyncs on the way to the real disk.</summary>
    private sealed class CountingFileSystem(IFileSystem inner) : IFileSystem
    {
        private int _fsyncs;

        public int FileFsyncs => Volatile.Read(ref _fsyncs);

        public void CreateDirectory(string path) => inner.CreateDirectory(path);

        public bool FileExists(string path) => inner.FileExists(path);

        public IEnumerable<string> EnumerateFiles(string directory, string searchPattern) => inner.EnumerateFiles(directory, searchPattern);

        public IFile Open(string path, FileMode mode) => new CountingFile(inner.Open(path, mode), this);

        public IFile OpenRead(string path) => inner.OpenRead(path);

        public void Delete(string path) => inner.Delete(path);

        public void Move(string source, string destination) => inner.Move(source, destination);

        public void FlushDirectory(string directory) => inner.FlushDirectory(directory);

        private sealed class CountingFile(IFile file, CountingFileSystem owner) : IFile
        {
            public long Length => file.Length;

            public int Read(Span<byte> buffer, long offset) => file.Read(buffer, offset);

            public void Write(ReadOnlySpan<byte> data, long offset) => file.Write(data, offset);

            public void SetLength(long length) => file.SetLength(length);

            public void Flush()
            {
                Interlocked.Increment(ref owner._fsyncs);
                file.Flush();
            }

            public void Dispose() => file.Dispose();
        }
    }
}
