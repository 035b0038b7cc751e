using BenchmarkDotNet.Running;

// Every benchmark class in this assembly is listed; pick with --filter, e.g.
//   dotnet run -c Release --project test/Benchmarks/Micro -- --filter '*ConsensusCore*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
