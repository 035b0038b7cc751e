using BenchmarkDotNet.Running;

// Every benchmark class in this assembly is listed; pick with --filter, e.g.
//   dotnet run -c Release --project test/Benchmarks/Micro -- --filter '*ConsensusCore*'
// Retained memory is measured by its own command (not a BenchmarkDotNet run):
//   dotnet run -c Release --project test/Benchmarks/Micro -- wal-index-memory --groups 20000
//   dotnet run -c Release --project test/Benchmarks/Micro -- wal-cold-read
//   dotnet run -c Release --project test/Benchmarks/Micro -- wal-reclaim [--segment-mb 64]
//   dotnet run -c Release --project test/Benchmarks/Micro -- wal-snapshots [--rounds 3]
if (args.Length > 0 && args[0] == "wal-cold-read")
{
    await OpenReplica.Benchmarks.WalColdRead.RunAsync();
    return;
}
if (args.Length > 0 && args[0] == "wal-reclaim")
{
    await OpenReplica.Benchmarks.WalReclaimPause.RunAsync(args);
    return;
}
if (args.Length > 0 && args[0] == "wal-snapshots")
{
    await OpenReplica.Benchmarks.WalSnapshotBatch.RunAsync(args);
    return;
}
if (args.Length > 0 && args[0] == "wal-index-memory")
{
    await OpenReplica.Benchmarks.WalIndexMemory.RunAsync(args);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
