using OpenReplica.Checker;
using OpenReplica.Cli;

namespace OpenReplica.Checker.Tests;

public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("openreplica-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = CommandRunner.Run(Program.CreateRootCommand(), args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private string File(string name, params IEnumerable<string> lines)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllLines(path, lines);
        return path;
    }

    private string Jsonl(string name, IEnumerable<Operation<CasInput, CasOutput>> ops)
        => File(name, ops.Select(HistoryWriter.Format));

    private string Good() => Jsonl("good.jsonl", [H.Write(0, 1, 0, 1), H.Read(1, 1, 2, 3)]);

    private string Bad() => Jsonl("bad.jsonl", [H.Write(0, 1, 0, 1), H.Write(0, 2, 2, 3), H.Read(1, 1, 4, 5)]);

    private string Slow() => Jsonl("slow.jsonl", BudgetAndExplainTests.Pathological());

    private static void NoStackTrace(string err)
    {
        Assert.DoesNotContain("   at ", err);
        Assert.DoesNotContain("Exception", err);
    }

    [Fact]
    public void LinearizableFileExitsZero()
    {
        var good = Good();
        var (exit, output, err) = Run("check", "--model", "cas-register", "--format", "jsonl", good);
        Assert.Equal(0, exit);
        Assert.Equal($"{good}: linearizable", output.Trim());
        Assert.Empty(err);
    }

    [Fact]
    public void ViolationExitsOneAndExplainsOnRequest()
    {
        var bad = Bad();
        var (exit, output, _) = Run("check", "--model", "register", "--format", "jsonl", bad);
        Assert.Equal(1, exit);
        Assert.Equal($"{bad}: not linearizable", output.Trim());

        (exit, output, _) = Run("check", "--model", "register", "--format", "jsonl", "--explain", bad);
        Assert.Equal(1, exit);
        Assert.StartsWith($"{bad}: not linearizable", output);
        Assert.Contains("#2", output);
        Assert.Contains("read -> 1", output);
        Assert.Contains("write(2) ok", output);
        Assert.Contains("cannot be linearized", output);
    }

    [Fact]
    public void UnknownExitsThree()
    {
        var slow = Slow();
        var (exit, output, _) = Run("check", "--model", "cas-register", "--format", "jsonl", "--timeout", "0.05", slow);
        Assert.Equal(3, exit);
        Assert.Equal($"{slow}: unknown (time budget)", output.Trim());
    }

    [Fact]
    public void AStepBudgetSaysSoAndDecidesWhatItCan()
    {
        string good = Good(), slow = Slow();
        var (exit, output, _) = Run("check", "--model", "cas-register", "--format", "jsonl", "--max-steps", "1000", "--timeout", "600", good, slow);
        Assert.Equal(3, exit);
        Assert.Equal([$"{good}: linearizable", $"{slow}: unknown (step budget)"], output.Trim().Split(Environment.NewLine));

        (exit, _, var error) = Run("check", "--model", "cas-register", "--format", "jsonl", "--max-steps", "0", good);
        Assert.Equal(2, exit);
        Assert.Contains("--max-steps must be at least 1", error);
    }

    [Fact]
    public void OneLinePerFileAndWorstExitCodeWins()
    {
        string good = Good(), bad = Bad(), slow = Slow();
        var (exit, output, _) = Run("check", "--model", "cas-register", "--format", "jsonl", "--timeout", "0.05", good, slow, bad);
        Assert.Equal(1, exit); // a definite violation outranks an unknown
        Assert.Equal([$"{good}: linearizable", $"{slow}: unknown (time budget)", $"{bad}: not linearizable"], output.Trim().Split(Environment.NewLine));
        Assert.Equal(3, Run("check", "-m", "cas-register", "-f", "jsonl", "-t", "0.05", good, slow).Exit);
        Assert.Equal(2, Run("check", "-m", "cas-register", "-f", "jsonl", good, bad, Path.Combine(_dir, "nope.jsonl")).Exit);
    }

    [Fact]
    public void MissingFileExitsTwoWithMessage()
    {
        var missing = Path.Combine(_dir, "missing.jsonl");
        var (exit, output, err) = Run("check", "--model", "kv", "--format", "jsonl", missing);
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.Contains($"{missing}: file not found", err);
        NoStackTrace(err);
    }

    [Fact]
    public void BadJsonLineExitsTwoNamingFileAndLine()
    {
        var path = File("broken.jsonl", HistoryWriter.Format(H.Write(0, 1, 0, 1)), "", "{\"process\":0,\"op\":\"read\"", HistoryWriter.Format(H.Read(0, 1, 2, 3)));
        var (exit, output, err) = Run("check", "--model", "cas-register", "--format", "jsonl", path);
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.StartsWith($"{path}:3: invalid JSON", err);
        NoStackTrace(err);
    }

    [Fact]
    public void BadJepsenLineExitsTwoNamingFileAndLine()
    {
        var path = File("broken.log", "INFO  jepsen.util - 0\t:invoke\t:write\t1", "INFO  jepsen.util - 0\t:ok\t:write\t1", "INFO  jepsen.util - 1\t:invoke\t:cas\t[1 two]");
        var (exit, _, err) = Run("check", "--model", "cas-register", "--format", "jepsen", path);
        Assert.Equal(2, exit);
        Assert.StartsWith($"{path}:3: ", err);
        NoStackTrace(err);
    }

    [Fact]
    public void CasInRegisterModelIsBadInput()
    {
        var path = Jsonl("cas.jsonl", [H.Cas(0, null, 1, true, 0, 1)]);
        var (exit, _, err) = Run("check", "--model", "register", "--format", "jsonl", path);
        Assert.Equal(2, exit);
        Assert.Contains($"{path}:1:", err);
        Assert.Contains("cas-register", err);
    }

    [Fact]
    public void KvModelReadsKeyValueJsonLines()
    {
        var path = File(
            "kv.jsonl",
            HistoryWriter.Format(H.Put(0, "x", "1", 0, 1)),
            HistoryWriter.Format(H.Get(1, "y", null, 2, 3)),
            HistoryWriter.Format(H.Get(1, "x", "1", 4, 5)));
        Assert.Equal(0, Run("check", "--model", "kv", "--format", "jsonl", path).Exit);
    }

    [Fact]
    public void PorcupineKvHistoriesWithAppendThroughTheCli()
    {
        var dir = H.PorcupineKvDir();
        if (dir is null)
        {
            Assert.Skip("Porcupine kv histories not found: expected test/testdata/porcupine-kv in the repository.");
        }

        var ok = Path.Combine(dir, "c10-ok.txt");
        var bad = Path.Combine(dir, "c10-bad.txt");
        var (exit, output, err) = Run("check", "--model", "kv", "--initial", "empty", "--format", "edn", ok, bad);
        Assert.Empty(err);
        Assert.Equal(1, exit);
        Assert.Equal([$"{ok}: linearizable", $"{bad}: not linearizable"], output.Trim().Split(Environment.NewLine));

        // Keys start absent by default: a get of "" from a key never written is then a violation.
        Assert.Equal(1, Run("check", "--model", "kv", "--format", "edn", ok).Exit);
    }

    [Fact]
    public void LaterKeyThatFailsIsReportedDespiteAHardFirstKey()
    {
        // The history: the first key needs 2^30 search steps, a later one fails at once.
        var history = PartitionFairnessTests.Hard("hard").Concat(PartitionFairnessTests.FailsFast("stale", 300));
        var path = File("hard-then-stale.jsonl", history.Select(HistoryWriter.Format));
        var (exit, output, _) = Run("check", "--model", "kv", "--format", "jsonl", "--timeout", "30", "--explain", path);
        Assert.Equal(1, exit);
        Assert.StartsWith($"{path}: not linearizable", output);
        Assert.Contains("partition key \"stale\"", output);
    }

    [Fact]
    public void UnknownNamesTheUndecidedKeys()
    {
        var history = PartitionFairnessTests.Hard("hard").Concat(PartitionFairnessTests.Easy("easy", 300));
        var path = File("hard.jsonl", history.Select(HistoryWriter.Format));
        var (exit, output, _) = Run("check", "--model", "kv", "--format", "jsonl", "--timeout", "0.2", path);
        Assert.Equal(3, exit);
        Assert.Equal($"{path}: unknown (time budget; undecided: \"hard\")", output.Trim());
    }

    [Fact]
    public void BadEdnLineExitsTwoNamingFileLineAndExpectation()
    {
        var path = File("broken.edn", "{:process 0, :type :invoke, :f :get, :key \"a\", :value nil}", "{:process 0, :type :ok, :f :get, :key \"a\" :value}");
        var (exit, output, err) = Run("check", "--model", "kv", "--format", "edn", path);
        Assert.Equal(2, exit);
        Assert.Empty(output);
        Assert.StartsWith($"{path}:2: invalid EDN: ", err);
        Assert.Contains("has no value", err);
        NoStackTrace(err);
    }

    [Fact]
    public void HtmlIsWrittenPerHistory()
    {
        var page = Path.Combine(_dir, "one.html");
        var bad = Bad();
        Assert.Equal(1, Run("check", "--model", "register", "--format", "jsonl", "--html", page, bad).Exit);
        var html = System.IO.File.ReadAllText(page);
        Assert.Contains("<!DOCTYPE html>", html);
        Assert.Contains("\"failing\":2", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", "", StringComparison.Ordinal));
        Assert.DoesNotContain("https://", html);

        var pages = Path.Combine(_dir, "pages");
        var good = Good();
        Assert.Equal(1, Run("check", "--model", "register", "--format", "jsonl", "--html", pages, good, bad).Exit);
        Assert.True(System.IO.File.Exists(Path.Combine(pages, "good.jsonl.html")));
        Assert.True(System.IO.File.Exists(Path.Combine(pages, "bad.jsonl.html")));
    }

    [Theory]
    [InlineData("check", "--format", "jsonl", "x.jsonl")] // --model missing
    [InlineData("check", "--model", "queue", "--format", "jsonl", "x.jsonl")]
    [InlineData("check", "--model", "kv", "--format", "csv", "x.jsonl")]
    [InlineData("check", "--model", "kv", "--format", "jsonl")] // no file
    [InlineData("check", "--model", "kv", "--format", "jsonl", "--timeout", "-1", "x.jsonl")]
    [InlineData("check", "--model", "kv", "--format", "jsonl", "--timeout", "soon", "x.jsonl")]
    [InlineData("check", "--model", "kv", "--format", "jsonl", "--parallelism", "0", "x.jsonl")]
    [InlineData("check", "--model", "kv", "--format", "jsonl", "--initial", "zero", "x.jsonl")]
    [InlineData("check", "--model", "register", "--format", "jsonl", "--initial", "empty", "x.jsonl")]
    [InlineData("check", "--model", "cas-register", "--format", "jsonl", "--initial", "1.5", "x.jsonl")]
    [InlineData("frobnicate")]
    [InlineData]
    public void UsageErrorsExitTwo(params string[] args)
    {
        var (exit, _, err) = Run(args);
        Assert.Equal(2, exit);
        Assert.NotEmpty(err);
        NoStackTrace(err);
    }

    [Fact]
    public void HelpExitsZero()
    {
        var (exit, output, _) = Run("check", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("--model", output);
        Assert.Contains("--explain", output);
    }

    [Fact]
    public void JepsenEtcdHistoriesThroughTheCli()
    {
        var dir = H.JepsenDir();
        if (dir is null)
        {
            Assert.Skip("Jepsen etcd histories not found: expected test/testdata/jepsen-etcd in the repository.");
        }

        var verdicts = System.IO.File.ReadAllLines(Path.Combine(dir, "verdicts.txt"))
            .Select(l => l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            .Where(p => p.Length == 2)
            .ToDictionary(p => Path.Combine(dir, p[0]), p => p[1] == "linearizable" ? "linearizable" : "not linearizable");
        var (exit, output, err) = Run(["check", "--model", "cas-register", "--format", "jepsen", .. verdicts.Keys]);
        Assert.Empty(err);
        Assert.Equal(verdicts.Values.Any(v => v != "linearizable") ? 1 : 0, exit);
        Assert.Equal(verdicts.Select(kv => $"{kv.Key}: {kv.Value}"), output.Trim().Split(Environment.NewLine));

        // The kv model reads the same logs as a single key and agrees.
        var first = verdicts.First();
        var (_, kvOut, _) = Run("check", "--model", "kv", "--format", "jepsen", first.Key);
        Assert.Equal($"{first.Key}: {first.Value}", kvOut.Trim());
    }
}
