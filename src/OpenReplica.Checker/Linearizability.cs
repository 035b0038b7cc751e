using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace OpenReplica.Checker;

/// <summary>Linearizability checking of concurrent histories against a sequential <see cref="IModel{TState, TInput, TOutput}"/>.</summary>
public static class Linearizability
{
    /// <summary>
    /// Decides whether <paramref name="history"/> is linearizable with respect to <paramref name="model"/>, spending at
    /// most <paramref name="budget"/> on the search (then the verdict is <see cref="Verdict.Unknown"/>). A violation is
    /// explained (smallest failing prefix, operations involved), with at most the same budget again for that.
    /// </summary>
    public static CheckResult Check<TState, TInput, TOutput>(
        IModel<TState, TInput, TOutput> model,
        IReadOnlyList<Operation<TInput, TOutput>> history,
        TimeSpan budget)
        => Check(model, history, new CheckOptions { Budget = budget });

    /// <summary>As <see cref="Check{TState, TInput, TOutput}(IModel{TState, TInput, TOutput}, IReadOnlyList{Operation{TInput, TOutput}}, TimeSpan)"/>, with options.</summary>
    public static CheckResult Check<TState, TInput, TOutput>(
        IModel<TState, TInput, TOutput> model,
        IReadOnlyList<Operation<TInput, TOutput>> history,
        CheckOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(options);
        for (var i = 0; i < history.Count; i++)
        {
            var op = history[i] ?? throw new ArgumentException($"Operation #{i} is null.", nameof(history));
            if (op.Return is { } r && r < op.Call)
            {
                throw new ArgumentException($"Operation #{i} returns ({r}) before it is called ({op.Call}).", nameof(history));
            }
        }

        var stopwatch = Stopwatch.StartNew();
        var deadline = new Deadline(options.Budget, options.CancellationToken);
        var partitions = Partition(model, history);
        long steps = 0;
        for (var p = 0; p < partitions.Count; p++)
        {
            var (key, indices) = partitions[p];
            var ops = indices.Select(i => history[i]).ToArray();
            var outcome = Search.Run(model, ops, deadline, ref steps);
            switch (outcome)
            {
                case SearchOutcome.NotLinearizable:
                    return options.Explain
                        ? ExplainViolation(model, history, key, indices, ops, options, stopwatch)
                        : new CheckResult(
                            Verdict.NotLinearizable,
                            $"not linearizable{DescribePartition(key)}",
                            stopwatch.Elapsed,
                            key);
                case SearchOutcome.OutOfTime:
                    var why = options.CancellationToken.IsCancellationRequested ? "the check was cancelled" : $"the time budget ({Seconds(options.Budget)}) ran out";
                    return new CheckResult(
                        Verdict.Unknown,
                        $"unknown: {why} after {steps:N0} search steps{DescribePartition(key)}; {p} of {partitions.Count} partition(s) were linearizable",
                        stopwatch.Elapsed,
                        key);
            }
        }

        return new CheckResult(Verdict.Linearizable, null, stopwatch.Elapsed);
    }

    private static List<(string? Key, int[] Indices)> Partition<TState, TInput, TOutput>(
        IModel<TState, TInput, TOutput> model,
        IReadOnlyList<Operation<TInput, TOutput>> history)
    {
        var byKey = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var order = new List<(string? Key, List<int> Indices)>();
        List<int>? unkeyed = null;
        for (var i = 0; i < history.Count; i++)
        {
            var key = model.PartitionKey(history[i].Input);
            List<int>? list;
            if (key is null)
            {
                if (unkeyed is null)
                {
                    unkeyed = [];
                    order.Add((null, unkeyed));
                }

                list = unkeyed;
            }
            else if (!byKey.TryGetValue(key, out list))
            {
                list = [];
                byKey.Add(key, list);
                order.Add((key, list));
            }

            list.Add(i);
        }

        return order.Select(o => (o.Key, o.Indices.ToArray())).ToList();
    }

    private static string DescribePartition(string? key) => key is null ? "" : $" (partition key \"{key}\")";

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    /// <summary>
    /// Finds the smallest prefix (in event order) of the violating partition that cannot be linearized, by bisection:
    /// linearizability of prefixes is monotone (an operation called but not yet returned in a prefix is indeterminate:
    /// it may take effect or not). The last event of that prefix is the response that cannot be explained.
    /// </summary>
    private static CheckResult ExplainViolation<TState, TInput, TOutput>(
        IModel<TState, TInput, TOutput> model,
        IReadOnlyList<Operation<TInput, TOutput>> history,
        string? key,
        int[] indices,
        Operation<TInput, TOutput>[] ops,
        CheckOptions options,
        Stopwatch stopwatch)
    {
        var events = Search.BuildEvents(ops);
        var callPos = new int[ops.Length];
        var returnPos = new int[ops.Length];
        for (var e = 0; e < events.Length; e++)
        {
            if (events[e].IsCall)
            {
                callPos[events[e].Op] = e;
            }
            else
            {
                returnPos[events[e].Op] = e;
            }
        }

        var deadline = new Deadline(options.ExplainBudget ?? options.Budget, options.CancellationToken);
        int lo = 0, hi = events.Length; // prefix lo is linearizable, prefix hi is not
        var minimised = true;
        long steps = 0;
        while (hi - lo > 1)
        {
            var mid = lo + (hi - lo) / 2;
            var prefix = new List<Operation<TInput, TOutput>>();
            for (var i = 0; i < ops.Length; i++)
            {
                if (callPos[i] < mid)
                {
                    prefix.Add(returnPos[i] < mid ? ops[i] : ops[i] with { Output = default, Return = null });
                }
            }

            var outcome = Search.Run(model, prefix, deadline, ref steps);
            if (outcome == SearchOutcome.OutOfTime)
            {
                minimised = false;
                break;
            }

            if (outcome == SearchOutcome.NotLinearizable)
            {
                hi = mid;
            }
            else
            {
                lo = mid;
            }
        }

        // The last return event within the failing prefix is the response that cannot be explained.
        var last = hi - 1;
        while (last > 0 && events[last].IsCall)
        {
            last--;
        }

        var failing = events[last].Op;
        var involved = new List<int>();
        for (var i = 0; i < ops.Length; i++)
        {
            if (callPos[i] < hi && returnPos[i] > callPos[failing])
            {
                involved.Add(i);
            }
        }

        var before = Enumerable.Range(0, ops.Length)
            .Where(i => returnPos[i] < callPos[failing])
            .OrderByDescending(i => returnPos[i])
            .Take(3)
            .Reverse()
            .ToList();

        var sb = new StringBuilder();
        sb.Append("not linearizable").Append(DescribePartition(key)).AppendLine(".");
        if (minimised)
        {
            sb.Append(CultureInfo.InvariantCulture, $"The first {hi} of {events.Length} call/return events (in time order) cannot be linearized; the first {hi - 1} can.").AppendLine();
        }
        else
        {
            sb.Append(CultureInfo.InvariantCulture, $"The first {hi} of {events.Length} call/return events (in time order) cannot be linearized (not minimised further: explanation budget ran out).").AppendLine();
        }

        sb.Append(CultureInfo.InvariantCulture, $"No order of the operations below explains the response of operation #{indices[failing]}:").AppendLine();
        foreach (var i in involved)
        {
            var pendingInPrefix = returnPos[i] >= hi;
            sb.Append("  ").Append(DescribeOp(model, indices[i], ops[i], pendingInPrefix));
            if (i == failing)
            {
                sb.Append("   <== cannot be linearized");
            }

            sb.AppendLine();
        }

        if (before.Count > 0)
        {
            sb.AppendLine("Completed just before it was called (so linearized before it):");
            foreach (var i in before)
            {
                sb.Append("  ").Append(DescribeOp(model, indices[i], ops[i], false)).AppendLine();
            }
        }

        return new CheckResult(
            Verdict.NotLinearizable,
            sb.ToString().TrimEnd(),
            stopwatch.Elapsed,
            key,
            indices[failing],
            involved.Select(i => indices[i]).ToArray(),
            hi);
    }

    private static string DescribeOp<TState, TInput, TOutput>(
        IModel<TState, TInput, TOutput> model,
        int index,
        Operation<TInput, TOutput> op,
        bool pendingInPrefix)
    {
        var text = model.DescribeOperation(op.Input, op.IsIndeterminate ? default : op.Output, op.IsIndeterminate);
        var times = op.Return is { } r
            ? pendingInPrefix ? $"call {op.Call}, return {r} (after the failing point)" : $"call {op.Call}, return {r}"
            : $"call {op.Call}, no response (indeterminate)";
        return string.Create(CultureInfo.InvariantCulture, $"#{index,-5} process {op.Process,-4} {text,-24} [{times}]");
    }
}
