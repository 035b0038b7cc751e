using OpenReplica.Checker;
using static OpenReplica.Checker.Tests.H;

namespace OpenReplica.Checker.Tests;

public class FormatTests
{
    [Fact]
    public void RegisterHistoryRoundTripsThroughJsonLines()
    {
        var history = GeneratedHistoryTests.RegisterHistory(7, clients: 4, count: 80, withCas: true);
        var text = new StringWriter();
        using (var writer = new HistoryWriter(text, leaveOpen: true))
        {
            writer.WriteAll(history);
        }

        var back = HistoryReader.ReadRegister(new StringReader(text.ToString()), "mem.jsonl");
        Assert.Equal(history.Select(Canonical), back);
    }

    [Fact]
    public void KvHistoryRoundTripsThroughJsonLines()
    {
        var history = GeneratedHistoryTests.KvHistory(3, clients: 4, count: 80).ToList();
        history.Add(Put(1, "quote\"and\\slash \u00e9", "line\nbreak", 1000, 1001));
        history.Add(KvCas(1, "k", null, "x", false, 1002, 1003));
        var text = new StringWriter();
        using (var writer = new HistoryWriter(text, leaveOpen: true))
        {
            writer.WriteAll(history);
        }

        Assert.Equal(history.Count, text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var back = HistoryReader.ReadKeyValue(new StringReader(text.ToString()), "mem.jsonl");
        Assert.Equal(history.Select(Canonical), back);
    }

    [Fact]
    public void WriterFormatIsTheDocumentedOne()
    {
        Assert.Equal(
            """{"process":2,"op":"cas","key":"x","input":["1","2"],"output":true,"call":30,"return":31}""",
            HistoryWriter.Format(KvCas(2, "x", "1", "2", true, 30, 31)));
        Assert.Equal(
            """{"process":1,"op":"get","key":"x","output":null,"call":12,"return":20}""",
            HistoryWriter.Format(Get(1, "x", null, 12, 20)));
        Assert.Equal(
            """{"process":0,"op":"write","input":3,"call":1,"return":null}""",
            HistoryWriter.Format(Write(0, 3, 1, null)));
        Assert.Equal(
            """{"process":0,"op":"cas","input":[null,4],"output":false,"call":5,"return":6}""",
            HistoryWriter.Format(Cas(0, null, 4, false, 5, 6)));
    }

    [Fact]
    public void ReaderAcceptsDocumentedVariants()
    {
        var text = """
            {"process":0,"op":"put","key":"x","input":"1","call":10,"return":15}

            {"process":1,"op":"get","key":"x","output":"1","call":12,"return":20,"note":"ignored"}
            {"process":2,"op":"cas","key":"x","input":["1","2"],"call":30}
            {"process":3,"op":"put","key":"y","input":42,"output":false,"call":31,"return":32}
            """;
        var ops = HistoryReader.ReadKeyValue(new StringReader(text), "t.jsonl");
        Assert.Equal(4, ops.Count);
        Assert.Equal(new KvOutput(null, true), ops[0].Output);
        Assert.Equal(new KvOutput("1"), ops[1].Output);
        Assert.Null(ops[2].Return);
        Assert.Equal(new KvInput(KvOp.Cas, "x", "2", "1"), ops[2].Input);
        Assert.Equal("42", ops[3].Input.Value);
        Assert.False(ops[3].Output!.Ok);
    }

    [Theory]
    [InlineData("{\"process\":0,\"op\":\"read\",\"output\":1,\"call\":1", "invalid JSON")]
    [InlineData("[1,2]", "expected a JSON object")]
    [InlineData("{\"op\":\"read\",\"output\":1,\"call\":1,\"return\":2}", "missing \"process\"")]
    [InlineData("{\"process\":\"a\",\"op\":\"read\",\"output\":1,\"call\":1,\"return\":2}", "\"process\" must be an integer")]
    [InlineData("{\"process\":0,\"op\":\"read\",\"output\":1,\"return\":2}", "missing \"call\"")]
    [InlineData("{\"process\":0,\"op\":\"read\",\"output\":1,\"call\":5,\"return\":2}", "before \"call\"")]
    [InlineData("{\"process\":0,\"op\":\"get\",\"output\":1,\"call\":1,\"return\":2}", "unknown \"op\" \"get\"")]
    [InlineData("{\"process\":0,\"op\":\"read\",\"call\":1,\"return\":2}", "missing \"output\" for \"read\"")]
    [InlineData("{\"process\":0,\"op\":\"read\",\"output\":\"x\",\"call\":1,\"return\":2}", "\"output\" must be an integer")]
    [InlineData("{\"process\":0,\"op\":\"write\",\"call\":1,\"return\":2}", "missing \"input\" for \"write\"")]
    [InlineData("{\"process\":0,\"op\":\"cas\",\"input\":[1],\"output\":true,\"call\":1,\"return\":2}", "must be [expected, new]")]
    [InlineData("{\"process\":0,\"op\":\"cas\",\"input\":[1,2],\"output\":\"yes\",\"call\":1,\"return\":2}", "must be true or false")]
    [InlineData("{\"process\":0,\"op\":\"read\",\"key\":\"x\",\"output\":1,\"call\":1,\"return\":2}", "has no \"key\"")]
    public void RegisterReaderErrorsNameFileAndLine(string badLine, string reason)
    {
        var text = "{\"process\":0,\"op\":\"write\",\"input\":1,\"call\":1,\"return\":2}\n\n" + badLine + "\n";
        var e = Assert.Throws<HistoryFormatException>(() => HistoryReader.ReadRegister(new StringReader(text), "h.jsonl"));
        Assert.Equal("h.jsonl", e.File);
        Assert.Equal(3, e.Line);
        Assert.StartsWith("h.jsonl:3: ", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Theory]
    [InlineData("{\"process\":0,\"op\":\"get\",\"output\":\"1\",\"call\":1,\"return\":2}", "needs a \"key\"")]
    [InlineData("{\"process\":0,\"op\":\"get\",\"key\":7,\"output\":\"1\",\"call\":1,\"return\":2}", "\"key\" must be a string")]
    [InlineData("{\"process\":0,\"op\":\"read\",\"key\":\"x\",\"output\":\"1\",\"call\":1,\"return\":2}", "unknown \"op\" \"read\" for a key-value history (expected get, put, append, delete or cas)")]
    [InlineData("{\"process\":0,\"op\":\"get\",\"key\":\"x\",\"input\":\"1\",\"output\":\"1\",\"call\":1,\"return\":2}", "takes no \"input\"")]
    [InlineData("{\"process\":0,\"op\":\"put\",\"key\":\"x\",\"input\":[1],\"call\":1,\"return\":2}", "must be a string or null")]
    public void KvReaderErrorsNameFileAndLine(string badLine, string reason)
    {
        var e = Assert.Throws<HistoryFormatException>(() => HistoryReader.ReadKeyValue(new StringReader(badLine), "kv.jsonl"));
        Assert.Equal(1, e.Line);
        Assert.StartsWith("kv.jsonl:1: ", e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void RegisterReaderCanRejectCas()
    {
        var e = Assert.Throws<HistoryFormatException>(() => HistoryReader.ReadRegister(
            new StringReader("{\"process\":0,\"op\":\"cas\",\"input\":[1,2],\"output\":true,\"call\":1,\"return\":2}"), "r.jsonl", allowCas: false));
        Assert.Contains("r.jsonl:1:", e.Message);
        Assert.Contains("cas-register", e.Message);
    }

    [Fact]
    public void JepsenReaderParsesEventsAndIgnoresNoise()
    {
        var log = """
            2017-01-01 some banner line
            INFO  jepsen.util - 0	:invoke	:read	nil
            INFO  jepsen.util - 1	:invoke	:write	4
            INFO  jepsen.util - 2	:invoke	:cas	[4 0]
            INFO  jepsen.util - 0	:ok	:read	nil
            INFO  jepsen.core - Worker 3 starting
            INFO  jepsen.util - 1	:info	:write	:timed-out
            INFO  jepsen.util - 2	:fail	:cas	[4 0]
            INFO  jepsen.util - 3	:invoke	:read	nil
            INFO  jepsen.util - 3	:fail	:read	:timed-out
            INFO  jepsen.util - 4	:invoke	:write	7
            INFO  jepsen.util - 5	:invoke	:cas	[nil 1]
            INFO  jepsen.util - 5	:ok	:cas	[nil 1]
            """;
        var ops = JepsenLogReader.Read(new StringReader(log), "j.log");
        Assert.Equal(
            [
                new Operation<CasInput, CasOutput>(0, new CasInput(CasOp.Read), new CasOutput(null), 2, 5),
                new Operation<CasInput, CasOutput>(1, new CasInput(CasOp.Write, 4), null, 3, null),
                new Operation<CasInput, CasOutput>(2, new CasInput(CasOp.Cas, 0, 4), new CasOutput(null, false), 4, 8),
                new Operation<CasInput, CasOutput>(4, new CasInput(CasOp.Write, 7), null, 11, null),
                new Operation<CasInput, CasOutput>(5, new CasInput(CasOp.Cas, 1, null), new CasOutput(null, true), 12, 13),
            ],
            ops);
    }

    [Theory]
    [InlineData("INFO  jepsen.util - 0\t:ok\t:read\t3", 1, "never invoked")]
    [InlineData("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:invoke\t:read\tnil", 2, "still pending")]
    [InlineData("INFO  jepsen.util - 0\t:invoke\t:write\tx", 1, "expected an integer or nil")]
    [InlineData("INFO  jepsen.util - 0\t:invoke\t:cas\t[1]", 1, "[EXPECTED NEW]")]
    [InlineData("INFO  jepsen.util - 0\t:invoke\t:append\t1", 1, "unknown operation ':append'")]
    [InlineData("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:write\t1", 2, "invoked :read")]
    [InlineData("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\tfoo", 2, "expected an integer or nil")]
    [InlineData("INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\nINFO  jepsen.util - 0\t:ok\t:cas\t[1 3]", 2, "was invoked with [1 2]")]
    public void JepsenReaderErrorsNameFileAndLine(string log, int line, string reason)
    {
        var e = Assert.Throws<HistoryFormatException>(() => JepsenLogReader.Read(new StringReader(log), "bad.log"));
        Assert.Equal(line, e.Line);
        Assert.StartsWith($"bad.log:{line}: ", e.Message);
        Assert.Contains(reason, e.Message);
    }

    /// <summary>What a history looks like after a round trip: outputs of indeterminate operations are not kept.</summary>
    private static Operation<TIn, TOut> Canonical<TIn, TOut>(Operation<TIn, TOut> op)
        => op.Return is null ? op with { Output = default } : op;
}
