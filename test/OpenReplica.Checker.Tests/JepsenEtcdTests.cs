using OpenReplica.Checker;

namespace OpenReplica.Checker.Tests;

public class JepsenEtcdTests
{
    private const string Missing = "(jepsen-etcd test data absent)";

    public static TheoryData<string, string> Histories()
    {
        var data = new TheoryData<string, string>();
        var dir = H.JepsenDir();
        if (dir is null)
        {
            data.Add(Missing, "");
            return data;
        }

        foreach (var line in File.ReadAllLines(Path.Combine(dir, "verdicts.txt")))
        {
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2)
            {
                data.Add(parts[0], parts[1]);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Histories))]
    public void EtcdHistoryGetsItsVerdict(string file, string expected)
    {
        var dir = H.JepsenDir();
        if (dir is null || file == Missing)
        {
            Assert.Skip("Jepsen etcd histories not found: expected test/testdata/jepsen-etcd (with verdicts.txt) in the repository.");
        }

        var history = JepsenLogReader.ReadFile(Path.Combine(dir, file));
        Assert.NotEmpty(history);
        var result = Linearizability.Check(Models.CasRegister, history, TimeSpan.FromSeconds(60));
        var want = expected switch
        {
            "linearizable" => Verdict.Linearizable,
            "not-linearizable" => Verdict.NotLinearizable,
            _ => throw new InvalidOperationException($"unknown verdict '{expected}' for {file}"),
        };
        Assert.Equal(want, result.Verdict);
        if (want == Verdict.NotLinearizable)
        {
            Assert.NotNull(result.Explanation);
            Assert.NotNull(result.FailingOperation);
            Assert.Contains(result.FailingOperation!.Value, result.InvolvedOperations);
        }
    }

    [Fact]
    public void VerdictListCoversAllLogs()
    {
        var dir = H.JepsenDir();
        if (dir is null)
        {
            Assert.Skip("Jepsen etcd histories not found: expected test/testdata/jepsen-etcd in the repository.");
        }

        var logs = Directory.GetFiles(dir, "*.log").Select(Path.GetFileName).Order().ToArray();
        var listed = Histories().Select(r => (string)r.Data.Item1).Order().ToArray();
        Assert.Equal(logs, listed);
    }

    [Fact]
    public void KeyValueModelAgreesOnJepsenHistories()
    {
        var dir = H.JepsenDir();
        if (dir is null)
        {
            Assert.Skip("Jepsen etcd histories not found: expected test/testdata/jepsen-etcd in the repository.");
        }

        foreach (var file in new[] { "etcd_000.log", "etcd_002.log", "etcd_049.log" })
        {
            var history = JepsenLogReader.ReadFile(Path.Combine(dir, file));
            var kv = history.Select(o => new Operation<KvInput, KvOutput>(
                o.Process,
                new KvInput(o.Input.Op switch { CasOp.Read => KvOp.Get, CasOp.Write => KvOp.Put, _ => KvOp.Cas }, "r", o.Input.Value?.ToString(), o.Input.Expected?.ToString()),
                o.Output is null ? null : new KvOutput(o.Output.Value?.ToString(), o.Output.Ok),
                o.Call,
                o.Return)).ToList();
            Assert.Equal(
                Linearizability.Check(Models.CasRegister, history, H.Budget).Verdict,
                Linearizability.Check(Models.KeyValue, kv, H.Budget).Verdict);
        }
    }
}
