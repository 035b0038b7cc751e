using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// What the subcommands that write a generated section of docs/benchmarks.md (<c>scale</c>, <c>scaleout</c>) share:
/// their work bounded as a whole, the run's header (when, what, where, how loaded), the markdown printed and written
/// between its markers, and the exit (temp folder removed unless kept or the run did not finish).
/// </summary>
internal static class SectionRun
{
    /// <summary>Waits for <paramref name="work"/> at most <paramref name="bound"/>; returns the note for the report when it did not finish cleanly.</summary>
    public static async Task<string?> AwaitBoundedAsync(Task work, TimeSpan bound, Func<string> during)
    {
        if (await Task.WhenAny(work, Task.Delay(bound)) != work)
        {
            return $"The run hit its {bound.TotalMinutes:0}-minute bound during \"{during()}\" and was cut short; the tables hold what finished.";
        }
        return work.IsFaulted
            ? $"The run failed during \"{during()}\": {work.Exception!.GetBaseException().GetType().Name}: {work.Exception.GetBaseException().Message.ReplaceLineEndings(" ")}"
            : null;
    }

    /// <summary>The lines every generated section starts with after its commands.</summary>
    public static void AppendHeader(StringBuilder sb, DateTimeOffset started, string command, bool quick, string total, string loadStart, string loadEnd)
    {
        sb.AppendLine($"Run: {started:yyyy-MM-dd HH:mm} UTC, `{command.Trim()}`{(quick ? " (quick)" : "")}; total {total}.");
        sb.AppendLine();
        sb.AppendLine($"Source: {Machine.Git()}.");
        sb.AppendLine();
        sb.AppendLine($"Machine: {Machine.Describe()}. Load average (1/5/15 min) at start `{loadStart}`, at end `{loadEnd}`.");
        sb.AppendLine();
    }

    public static void AppendNotes(StringBuilder sb, IReadOnlyList<string> notes)
    {
        if (notes.Count == 0) return;
        sb.AppendLine();
        foreach (var n in notes) sb.AppendLine($"- {n}");
    }

    /// <summary>Prints the section on stdout and, with a doc path, replaces it between its markers there.</summary>
    public static void Publish(string markdown, string? docPath, string begin, string end, Action<string> status)
    {
        Console.Out.WriteLine(markdown);
        Console.Out.Flush();
        if (docPath is null) return;
        MarkedSection.Write(docPath, begin, end, markdown);
        status($"wrote {docPath}");
    }

    /// <summary>Exits the tool: Orleans hosts may leave threads behind, so it does not wait for them (child processes die with it).</summary>
    [DoesNotReturn]
    public static void Exit(bool ok, bool keepTemp, string tempRoot)
    {
        if (ok && !keepTemp)
        {
            try { Directory.Delete(tempRoot, recursive: true); } catch { }
        }
        Environment.Exit(ok ? 0 : 1);
        throw new System.Diagnostics.UnreachableException();
    }
}
