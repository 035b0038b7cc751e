using System.Net;
using System.Text.Json;

namespace OpenReplica.Checker;

/// <summary>
/// Renders a checked history as a self-contained HTML page (no network access; the page's own script draws it): each
/// partition's operations as bars on a time line, one row per client; the linearization found with the model state
/// after each operation; for a violation, the longest linearizable prefix and the operation that cannot be placed
/// after it. The result must come from a check with <see cref="CheckOptions.RecordLinearizations"/> (and
/// <see cref="CheckOptions.Explain"/> for a violation), otherwise the page shows the operations only.
/// </summary>
public static class HistoryHtml
{
    private const string DataMarker = "/*DATA*/";
    private const string TitleMarker = "/*TITLE*/";

    /// <summary>Writes the page to <paramref name="path"/>.</summary>
    public static void WriteFile<TState, TInput, TOutput>(
        string path,
        IModel<TState, TInput, TOutput> model,
        IReadOnlyList<Operation<TInput, TOutput>> history,
        CheckResult result,
        string title)
    {
        using var writer = new StreamWriter(path);
        Write(writer, model, history, result, title);
    }

    /// <summary>Writes the page.</summary>
    public static void Write<TState, TInput, TOutput>(
        TextWriter writer,
        IModel<TState, TInput, TOutput> model,
        IReadOnlyList<Operation<TInput, TOutput>> history,
        CheckResult result,
        string title)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(result);
        var template = Template();
        var data = Data(model, history, result, title);
        var dataAt = template.IndexOf(DataMarker, StringComparison.Ordinal);
        writer.Write(template[..dataAt].Replace(TitleMarker, WebUtility.HtmlEncode(title), StringComparison.Ordinal));

        // The default encoder escapes <, > and &, so the JSON cannot close the script element it sits in.
        writer.Write(JsonSerializer.Serialize(data));
        writer.Write(template[(dataAt + DataMarker.Length)..]);
    }

    private static Dictionary<string, object?> Data<TState, TInput, TOutput>(
        IModel<TState, TInput, TOutput> model,
        IReadOnlyList<Operation<TInput, TOutput>> history,
        CheckResult result,
        string title)
    {
        // Violating partition first, then undecided ones, then the rest, each group in history order.
        var partitions = result.Partitions
            .Select((p, index) => (p, index))
            .OrderBy(x => x.p.Verdict switch { Verdict.NotLinearizable => 0, Verdict.Unknown => 1, _ => 2 })
            .Select(x => new Dictionary<string, object?>
            {
                ["index"] = x.index,
                ["key"] = x.p.Key,
                ["verdict"] = Name(x.p.Verdict),
                ["failing"] = x.p.FailingOperation,
                ["involved"] = x.p.FailingOperation is null ? Array.Empty<int>() : result.InvolvedOperations,
                ["ops"] = x.p.Operations.Select(i => Op(model, i, history[i])).ToArray(),
                ["lin"] = x.p.Linearization?.Select(s => new Dictionary<string, object> { ["id"] = s.Operation, ["state"] = s.State }).ToArray(),
            })
            .ToArray();
        return new Dictionary<string, object?>
        {
            ["title"] = title,
            ["verdict"] = Name(result.Verdict),
            ["explanation"] = result.Explanation,
            ["operations"] = history.Count,
            ["initialState"] = model.DescribeState(model.Init()),
            ["partitions"] = partitions,
        };
    }

    private static Dictionary<string, object?> Op<TState, TInput, TOutput>(IModel<TState, TInput, TOutput> model, int index, Operation<TInput, TOutput> op)
        => new()
        {
            ["id"] = index,
            ["client"] = op.Process,
            ["call"] = op.Call,
            ["ret"] = op.Return,
            ["text"] = model.DescribeOperation(op.Input, op.IsIndeterminate ? default : op.Output, op.IsIndeterminate),
        };

    private static string Name(Verdict verdict) => verdict switch
    {
        Verdict.Linearizable => "linearizable",
        Verdict.NotLinearizable => "not linearizable",
        _ => "unknown",
    };

    private static string Template()
    {
        using var stream = typeof(HistoryHtml).Assembly.GetManifestResourceStream("OpenReplica.Checker.HistoryHtml.template.html")
            ?? throw new InvalidOperationException("The HTML template is missing from the assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
