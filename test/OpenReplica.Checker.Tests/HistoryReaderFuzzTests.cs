using System.Text;
using OpenReplica.Checker;
using OpenReplica.Testing;

namespace OpenReplica.Checker.Tests;

/// <summary>
/// Hostile bytes for the history readers (our JSON lines for registers and key-value maps, and Jepsen's log): seeded
/// mutations of valid histories must either read or be refused with a <see cref="HistoryFormatException"/> — never
/// another exception. A failure names the seed and iteration.
/// </summary>
public sealed class HistoryReaderFuzzTests
{
    private const int Iterations = 3_000;

    private const string JepsenLog = """
        INFO  jepsen.util - 0	:invoke	:read	nil
        INFO  jepsen.util - 1	:invoke	:write	4
        INFO  jepsen.util - 2	:invoke	:cas	[4 0]
        INFO  jepsen.util - 0	:ok	:read	nil
        INFO  jepsen.util - 1	:info	:write	:timed-out
        INFO  jepsen.util - 2	:fail	:cas	[4 0]
        INFO  jepsen.util - 5	:invoke	:cas	[nil 1]
        INFO  jepsen.util - 5	:ok	:cas	[nil 1]
        """;

    public static TheoryData<int> Seeds => new(21, 22);

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Mutated_histories_are_read_or_refused_with_a_history_format_error(int seed)
    {
        var register = Encoding.UTF8.GetBytes(Written(w => w.WriteAll(GeneratedHistoryTests.RegisterHistory(seed, clients: 3, count: 12, withCas: true))));
        var kv = Encoding.UTF8.GetBytes(Written(w => w.WriteAll(GeneratedHistoryTests.KvHistory(seed, clients: 3, count: 12))));
        var jepsen = Encoding.UTF8.GetBytes(JepsenLog);
        var readers = new (byte[] Sample, Action<string> Read)[]
        {
            (register, text => HistoryReader.ReadRegister(new StringReader(text), "fuzz.jsonl")),
            (kv, text => HistoryReader.ReadKeyValue(new StringReader(text), "fuzz.jsonl")),
            (jepsen, text => JepsenLogReader.Read(new StringReader(text), "fuzz.log")),
        };
        var corpus = readers.Select(r => r.Sample).ToList();
        var mutator = new ByteMutator(seed);
        for (int i = 0; i < Iterations; i++)
        {
            var (sample, read) = readers[i % readers.Length];
            string text = Encoding.UTF8.GetString(mutator.Mutate(sample, corpus));
            try
            {
                read(text);
            }
            catch (HistoryFormatException)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {seed} iteration {i}: {e.GetType().Name} instead of HistoryFormatException for:\n{text}\n{e}");
            }
        }
    }

    private static string Written(Action<HistoryWriter> write)
    {
        var text = new StringWriter();
        using (var writer = new HistoryWriter(text, leaveOpen: true)) write(writer);
        return text.ToString();
    }
}
