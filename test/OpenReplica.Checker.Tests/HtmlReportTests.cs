using System.Diagnostics;
using System.Text.RegularExpressions;
using OpenReplica.Checker;
using static OpenReplica.Checker.Tests.H;

namespace OpenReplica.Checker.Tests;

/// <summary>The HTML page of a check, rendered by a real headless browser (Debian's chromium, installed by
/// .ci/services.sh); skipped with a message when no chromium is installed.</summary>
public sealed class HtmlReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("openreplica-html-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Key "x" is fine; on key "y" a get returns a value overwritten before it was called.</summary>
    private static List<Operation<KvInput, KvOutput>> History() =>
    [
        Put(0, "x", "1", 0, 10),        // #0
        Put(1, "y", "a", 1, 3),         // #1
        Append(2, "y", "b", 4, 8),      // #2
        Get(0, "x", "1", 11, 12),       // #3
        Put(3, "y", "c", 9, 11),        // #4
        Get(1, "y", "ab", 12, 14),      // #5 stale: "c" was put after "ab" existed and before this get
        Append(2, "y", "d", 13, null),  // #6 indeterminate
    ];

    [Fact]
    public void BrowserRendersOperationsLinearizationAndTheFailingOperation()
    {
        var chromium = Chromium();
        if (chromium is null)
        {
            Assert.Skip("chromium not found (looked for $CHROMIUM, chromium, chromium-browser on PATH); .ci/services.sh installs Debian's chromium package.");
        }

        var history = History();
        var result = Linearizability.Check(Models.KeyValue, history, new CheckOptions { Budget = Budget, RecordLinearizations = true });
        Assert.Equal(Verdict.NotLinearizable, result.Verdict);
        Assert.Equal(5, result.FailingOperation);
        var page = Path.Combine(_dir, "report.html");
        HistoryHtml.WriteFile(page, Models.KeyValue, history, result, "kv <test> history");

        var dom = DumpDom(chromium, page);

        // The script ran and drew the page.
        Assert.Contains("data-rendered=\"true\"", dom);
        Assert.Contains("kv &lt;test&gt; history", dom);

        // Every operation of the violating partition is a bar; the failing one is marked as such.
        var y = result.Partitions.Single(p => p.Key == "y");
        foreach (var op in y.Operations)
        {
            Assert.Matches($"<g class=\"op[^\"]*\" data-op=\"{op}\">", dom);
        }

        Assert.Matches("<g class=\"op[^\"]*failing[^\"]*\" data-op=\"5\">", dom);
        Assert.Contains("get(\"y\") -&gt; \"ab\"", dom);

        // The longest linearizable prefix, in order, with the state after each operation, then the failing operation.
        var rows = Regex.Matches(dom, "<tr data-op=\"(\\d+)\">.*?<td class=\"state\">([^<]*)</td>")
            .Select(m => (int.Parse(m.Groups[1].Value), m.Groups[2].Value))
            .ToList();
        Assert.Equal([(1, "\"a\""), (2, "\"ab\""), (4, "\"c\"")], rows.Take(3));
        Assert.Matches("<tr class=\"failing\" data-op=\"5\">", dom);
        Assert.Contains("cannot be placed", dom);

        // The linearizable partition is listed too (collapsed, drawn when opened).
        Assert.Contains("key \"x\"", dom);
    }

    private static string DumpDom(string chromium, string page)
    {
        var profile = Directory.CreateTempSubdirectory("openreplica-chromium-").FullName;
        try
        {
            var start = new ProcessStartInfo(chromium)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", $"--user-data-dir={profile}", "--dump-dom", new Uri(page).AbsoluteUri })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail("chromium did not finish within 90 s");
            }

            Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}: {stderr.Result}");
            return stdout.Result;
        }
        finally
        {
            try
            {
                Directory.Delete(profile, recursive: true);
            }
            catch (IOException)
            {
                // chromium's helpers may still hold files for a moment; the temp directory is cleaned eventually.
            }
        }
    }

    private static string? Chromium()
    {
        if (Environment.GetEnvironmentVariable("CHROMIUM") is { Length: > 0 } configured && File.Exists(configured))
        {
            return configured;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var name in new[] { "chromium", "chromium-browser" })
            {
                var path = Path.Combine(dir, name);
                if (File.Exists(path))
                {
                    return path;
                }
            }
        }

        return null;
    }
}
