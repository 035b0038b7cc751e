using OpenReplica.Checker;

namespace OpenReplica.Checker.Tests;

/// <summary>Jepsen EDN histories (history.edn, Porcupine's kv data) and JSON-lines append/delete.</summary>
public class EdnFormatTests
{
    private static IReadOnlyList<Operation<KvInput, KvOutput>> Kv(params string[] lines)
        => EdnHistoryReader.ReadKeyValue(new StringReader(string.Join('\n', lines)), "h.edn");

    [Fact]
    public void ReadsPorcupineKvLines()
    {
        var ops = Kv(
            "{:process 0, :type :invoke, :f :append, :key \"0\", :value \"x 0 0 y\"}",
            "{:process 1, :type :invoke, :f :get, :key \"0\", :value nil}",
            "{:process 0, :type :ok, :f :append, :key \"0\", :value \"x 0 0 y\"}",
            "{:process 1, :type :ok, :f :get, :key \"0\", :value \"x 0 0 y\"}",
            "{:process 2, :type :invoke, :f :put, :key \"1\", :value \"v\"}");
        Assert.Equal(
            [
                new Operation<KvInput, KvOutput>(0, new KvInput(KvOp.Append, "0", "x 0 0 y"), new KvOutput(null), 1, 3),
                new Operation<KvInput, KvOutput>(1, new KvInput(KvOp.Get, "0"), new KvOutput("x 0 0 y"), 2, 4),
                new Operation<KvInput, KvOutput>(2, new KvInput(KvOp.Put, "1", "v"), null, 5, null),
            ],
            ops);
    }

    [Fact]
    public void ReadsJepsenIndependentTuplesFailuresInfoAndSkipsTheNemesis()
    {
        // :fail means "did not take effect": the failed CAS and the failed read are dropped, as Knossos does.
        var ops = Kv(
            "{:type :invoke, :f :write, :value [3 5], :process 0, :time 10, :index 0}",
            "{:type :info, :f :start-partition, :value nil, :process :nemesis, :time 11}",
            "{:type :ok, :f :write, :value [3 5], :process 0, :time 12, :index 1}",
            "{:type :invoke, :f :cas, :value [3 [5 6]], :process 1, :time 13}",
            "{:type :fail, :f :cas, :value [3 [5 6]], :process 1, :time 14, :error :conflict}",
            "{:type :invoke, :f :read, :value [3 nil], :process 2}",
            "{:type :fail, :f :read, :value [3 nil], :process 2}",
            "{:type :invoke, :f :delete, :value [4 nil], :process 3}",
            "{:type :info, :f :delete, :value [4 nil], :process 3}",
            "",
            "{:type :invoke, :f :read, :value [3 nil], :process 4}",
            "{:type :ok, :f :read, :value [3 5], :process 4}");
        Assert.Equal(
            [
                new Operation<KvInput, KvOutput>(0, new KvInput(KvOp.Put, "3", "5"), new KvOutput(null), 1, 3),
                new Operation<KvInput, KvOutput>(3, new KvInput(KvOp.Delete, "4"), null, 8, null),
                new Operation<KvInput, KvOutput>(4, new KvInput(KvOp.Get, "3"), new KvOutput("5"), 11, 12),
            ],
            ops);
    }

    [Fact]
    public void ReadsRegisterHistories()
    {
        var ops = EdnHistoryReader.ReadRegister(
            new StringReader("""
                {:type :invoke, :f :write, :value 1, :process 0}
                {:type :ok, :f :write, :value 1, :process 0}
                {:type :invoke, :f :cas, :value [1 2], :process 1}
                {:type :ok, :f :cas, :value [1 2], :process 1}
                {:type :invoke, :f :read, :value nil, :process 0}
                {:type :ok, :f :read, :value 2, :process 0}
                """),
            "r.edn");
        Assert.Equal(Verdict.Linearizable, Linearizability.Check(Models.CasRegister, ops, H.Budget).Verdict);
        Assert.Equal([CasOp.Write, CasOp.Cas, CasOp.Read], ops.Select(o => o.Input.Op));
    }

    [Theory]
    [InlineData("{:process 0, :type :invoke, :f :get, :key \"0\"", "invalid EDN: column 46: expected '}' to close the map")]
    [InlineData("[:process 0]", "expected an EDN map")]
    [InlineData("{:type :invoke, :f :get, :key \"0\"}", "missing :process")]
    [InlineData("{:process 0, :type :begin, :f :get, :key \"0\"}", ":type must be :invoke, :ok, :fail or :info, found :begin")]
    [InlineData("{:process 0, :type :invoke, :f \"get\", :key \"0\"}", ":f must be a keyword")]
    [InlineData("{:process 0, :type :invoke, :f :txn, :value [[:append 1 2]]}", "transactions need a transactional checker")]
    [InlineData("{:process 0, :type :invoke, :f :read, :value 3}", "expected a :key, or a :value [key value]")]
    [InlineData("{:process 0, :type :invoke, :f :cas, :key \"k\", :value 3}", "expected a compare-and-set [expected new], found 3")]
    [InlineData("{:process 0, :type :invoke, :f :append, :key \"k\", :value nil}", "append needs the text to append")]
    [InlineData("{:process 0, :type :ok, :f :get, :key \"0\", :value \"\"}", "completes (:ok) an operation it never invoked")]
    public void ErrorsNameLineAndWhatWasExpected(string badLine, string reason)
    {
        var e = Assert.Throws<HistoryFormatException>(() => Kv("{:process 9, :type :invoke, :f :get, :key \"0\", :value nil}", badLine));
        Assert.Equal(2, e.Line);
        Assert.StartsWith("h.edn:2: ", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void ReadsAHistoryWrittenAsOneVectorWithMapsOverSeveralLines()
    {
        // Knossos' data and older Jepsen histories: one vector, a comment, a map spread over two lines.
        var ops = EdnHistoryReader.ReadRegister(
            new StringReader("""
                ; a comment
                [{:process 0, :type :invoke, :f :write, :value 1}
                 {:process 0, :type :ok, :f :write,
                  :value 1}
                 {:process 1, :type :invoke, :f :read, :value nil}
                 {:process 1, :type :ok, :f :read, :value 1}]
                """),
            "v.edn");
        Assert.Equal(
            [
                new Operation<CasInput, CasOutput>(0, new CasInput(CasOp.Write, 1), new CasOutput(null), 2, 3),
                new Operation<CasInput, CasOutput>(1, new CasInput(CasOp.Read), new CasOutput(1), 5, 6),
            ],
            ops);

        var unclosed = Assert.Throws<HistoryFormatException>(() => EdnHistoryReader.ReadRegister(new StringReader("[{:process 0, :type :invoke, :f :read}\n"), "v.edn"));
        Assert.Equal("v.edn:1: invalid EDN: column 39: expected ']' to close the history, found the end of the file", unclosed.Message);
    }

    [Fact]
    public void CompletionMustMatchItsInvocation()
    {
        var e = Assert.Throws<HistoryFormatException>(() => Kv(
            "{:process 0, :type :invoke, :f :get, :key \"0\", :value nil}",
            "{:process 0, :type :ok, :f :put, :key \"0\", :value \"1\"}"));
        Assert.Contains("completes :put but invoked :get on line 1", e.Message);
    }

    [Fact]
    public void RegisterHistoryRejectsKeysAndNonIntegers()
    {
        var keyed = Assert.Throws<HistoryFormatException>(() => EdnHistoryReader.ReadRegister(new StringReader("{:process 0, :type :invoke, :f :read, :key \"k\"}"), "r.edn"));
        Assert.Contains("has no :key", keyed.Message);
        var text = Assert.Throws<HistoryFormatException>(() => EdnHistoryReader.ReadRegister(new StringReader("{:process 0, :type :invoke, :f :write, :value \"x\"}"), "r.edn"));
        Assert.Contains("expected an integer or nil, found \"x\"", text.Message);
    }

    [Fact]
    public void JsonLinesAppendAndDeleteRoundTrip()
    {
        Operation<KvInput, KvOutput>[] ops =
        [
            H.Append(0, "x", "ab", 1, 2),
            H.Delete(1, "x", 3, null),
            H.Get(2, "x", "ab", 4, 5),
        ];
        var text = string.Join('\n', ops.Select(HistoryWriter.Format));
        Assert.Contains("\"op\":\"append\",\"key\":\"x\",\"input\":\"ab\"", text);
        Assert.Contains("\"op\":\"delete\",\"key\":\"x\"", text);
        Assert.Equal(ops, HistoryReader.ReadKeyValue(new StringReader(text), "kv.jsonl"));
        var bad = Assert.Throws<HistoryFormatException>(() => HistoryReader.ReadKeyValue(new StringReader("{\"process\":0,\"op\":\"append\",\"key\":\"x\",\"input\":null,\"call\":1}"), "kv.jsonl"));
        Assert.Contains("kv.jsonl:1: \"append\" needs a string \"input\"", bad.Message);
    }
}
