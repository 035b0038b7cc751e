using System.Runtime.CompilerServices;

namespace OpenReplica.Consensus.Tests;

/// <summary>
/// Runs every testdata/*.txt script and compares the trace. REWRITE_TRACES=1 writes the actual output back
/// into the scripts instead; review the diff (git diff testdata) before committing it.
/// </summary>
public class TraceTests
{
    private static string TestData([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "testdata");

    public static TheoryData<string> Scripts()
    {
        var data = new TheoryData<string>();
        foreach (string path in Directory.GetFiles(TestData(), "*.txt").Order()) data.Add(Path.GetFileName(path));
        return data;
    }

    [Fact]
    public void There_are_scripts_for_every_area()
    {
        Assert.True(Scripts().Count >= 6);
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Script(string name)
    {
        string path = Path.Combine(TestData(), name);
        var blocks = TraceScript.Parse(File.ReadAllText(path));
        Assert.NotEmpty(blocks);
        var script = new TraceScript();
        var actual = blocks.Select(b => (b.Command, Output: script.Run(b.Command))).ToList();

        if (Environment.GetEnvironmentVariable("REWRITE_TRACES") == "1")
        {
            File.WriteAllText(path, TraceScript.Render(actual));
            return;
        }
        for (int i = 0; i < blocks.Count; i++)
        {
            Assert.True(blocks[i].Expected == actual[i].Output,
                $"{name}: output of block {i + 1} ('{blocks[i].Command.Split('\n')[^1]}') differs\n--- expected\n{blocks[i].Expected}\n--- actual\n{actual[i].Output}");
        }
    }
}
