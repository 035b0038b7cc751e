using OpenReplica.Checker;

namespace OpenReplica.Checker.Tests;

/// <summary>Terse builders for hand-written histories.</summary>
internal static class H
{
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);

    public static Operation<CasInput, CasOutput> Read(int p, long? value, long call, long? ret)
        => new(p, new CasInput(CasOp.Read), ret is null ? null : new CasOutput(value), call, ret);

    public static Operation<CasInput, CasOutput> Write(int p, long value, long call, long? ret)
        => new(p, new CasInput(CasOp.Write, value), ret is null ? null : new CasOutput(null), call, ret);

    public static Operation<CasInput, CasOutput> Cas(int p, long? expected, long value, bool ok, long call, long? ret)
        => new(p, new CasInput(CasOp.Cas, value, expected), ret is null ? null : new CasOutput(null, ok), call, ret);

    public static Operation<KvInput, KvOutput> Get(int p, string key, string? value, long call, long? ret)
        => new(p, new KvInput(KvOp.Get, key), ret is null ? null : new KvOutput(value), call, ret);

    public static Operation<KvInput, KvOutput> Put(int p, string key, string? value, long call, long? ret)
        => new(p, new KvInput(KvOp.Put, key, value), ret is null ? null : new KvOutput(null), call, ret);

    public static Operation<KvInput, KvOutput> Append(int p, string key, string value, long call, long? ret)
        => new(p, new KvInput(KvOp.Append, key, value), ret is null ? null : new KvOutput(null), call, ret);

    public static Operation<KvInput, KvOutput> Delete(int p, string key, long call, long? ret)
        => new(p, new KvInput(KvOp.Delete, key), ret is null ? null : new KvOutput(null), call, ret);

    public static Operation<KvInput, KvOutput> KvCas(int p, string key, string? expected, string? value, bool ok, long call, long? ret)
        => new(p, new KvInput(KvOp.Cas, key, value, expected), ret is null ? null : new KvOutput(null, ok), call, ret);

    public static Verdict CheckCas(params Operation<CasInput, CasOutput>[] history)
        => Linearizability.Check(Models.CasRegister, history, Budget).Verdict;

    public static Verdict CheckRegister(params Operation<CasInput, CasOutput>[] history)
        => Linearizability.Check(Models.Register, history, Budget).Verdict;

    public static Verdict CheckKv(params Operation<KvInput, KvOutput>[] history)
        => Linearizability.Check(Models.KeyValue, history, Budget).Verdict;

    /// <summary>The directory holding OpenReplica.sln, found by walking up from the test binaries.</summary>
    public static string? RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OpenReplica.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    }

    /// <summary>test/testdata/jepsen-etcd in the repository (with verdicts.txt), or null when absent.</summary>
    public static string? JepsenDir() => TestData("jepsen-etcd", "verdicts.txt");

    /// <summary>test/testdata/porcupine-kv in the repository, or null when absent.</summary>
    public static string? PorcupineKvDir() => TestData("porcupine-kv", "c01-ok.txt");

    private static string? TestData(string name, string marker)
    {
        var root = RepoRoot();
        if (root is null)
        {
            return null;
        }

        var dir = Path.Combine(root, "test", "testdata", name);
        return File.Exists(Path.Combine(dir, marker)) ? dir : null;
    }
}
