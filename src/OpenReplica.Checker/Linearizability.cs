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

        if (options.Parallelism < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Parallelism, $"{nameof(CheckOptions)}.{nameof(CheckOptions.Parallelism)} must be at least 1.");
        }

        if (options.MaxStepsPerPartition is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxStepsPerPartition, $"{nameof(CheckOptions)}.{nameof(CheckOptions.MaxStepsPerPartition)} must be at least 1 (or null for no limit).");
        }

        var stopwatch = Stopwatch.StartNew();
        var deadline = new Deadline(options.Budget, options.CancellationToken);
        var partitions = Partition(model, history);
        var scheduler = new PartitionScheduler(
            partitions.Count,
            p => new PartitionSearch<TState, TInput, TOutput>(model, partitions[p].Indices.Select(i => history[i]).ToArray(), options.RecordLinearizations),
            options.Parallelism,
            options.MaxStepsPerPartition);
        scheduler.Run(deadline, options.CancellationToken);

        var results = new PartitionResult[partitions.Count];
        for (var p = 0; p < partitions.Count; p++)
        {
            var (key, indices) = partitions[p];
            var verdict = scheduler.Outcomes[p] switch
            {
                SearchOutcome.Linearizable => Verdict.Linearizable,
                SearchOutcome.NotLinearizable => Verdict.NotLinearizable,
                _ => Verdict.Unknown,
            };
            var order = options.RecordLinearizations ? scheduler.Linearizations[p] ?? scheduler.DeepestOf(p) : null;
            results[p] = new PartitionResult(key, verdict, indices, order is null ? null : Replay(model, indices.Select(i => history[i]).ToArray(), order, indices));
        }

        if (scheduler.Violating is { } bad)
        {
            var (key, indices) = partitions[bad];
            if (!options.Explain)
            {
                return new CheckResult(Verdict.NotLinearizable, $"not linearizable{DescribePartition(key)}", stopwatch.Elapsed, key, partitions: results);
            }

            var ops = indices.Select(i => history[i]).ToArray();
            return ExplainViolation(model, key, indices, ops, options, stopwatch, results, bad);
        }

        var undecided = results.Where(r => r.Verdict == Verdict.Unknown).Select(r => r.Key).ToArray();
        if (undecided.Length > 0)
        {
            bool outOfSteps = !options.CancellationToken.IsCancellationRequested && scheduler.OutOfSteps == undecided.Length;
            var why = options.CancellationToken.IsCancellationRequested ? "the check was cancelled"
                : outOfSteps ? $"the step budget ({options.MaxStepsPerPartition:N0} per partition) ran out"
                : $"the time budget ({Seconds(options.Budget)}) ran out";
            return new CheckResult(
                Verdict.Unknown,
                $"unknown: {why} after {scheduler.Steps:N0} search steps; {undecided.Length} of {partitions.Count} partition(s) undecided{DescribeUndecided(undecided)}, the other {partitions.Count - undecided.Length} linearizable",
                stopwatch.Elapsed,
                undecided[0],
                partitions: results,
                undecidedPartitions: undecided)
            {
                OutOfSteps = outOfSteps,
            };
        }

        return new CheckResult(Verdict.Linearizable, null, stopwatch.Elapsed, partitions: results);
    }

    /// <summary>Names the undecided partitions (the first few) for the message of an unknown verdict.</summary>
    private static string DescribeUndecided(string?[] undecided)
    {
        const int Shown = 10;
        if (undecided.All(k => k is null))
        {
            return "";
        }

        var names = string.Join(", ", undecided.Take(Shown).Select(k => k is null ? "(unkeyed)" : $"\"{k}\""));
        return undecided.Length > Shown ? $" ({names} and {undecided.Length - Shown} more)" : $" ({names})";
    }

    /// <summary>Applies <paramref name="order"/> (indices into <paramref name="ops"/>) to the model and describes the
    /// state after each step; indeterminate operations take effect with any output.</summary>
    private static LinearizedOperation[] Replay<TState, TInput, TOutput>(
        IModel<TState, TInput, TOutput> model,
        Operation<TInput, TOutput>[] ops,
        int[] order,
        int[] indices)
    {
        var state = model.Init();
        var steps = new LinearizedOperation[order.Length];
        for (var s = 0; s < order.Length; s++)
        {
            var op = ops[order[s]];
            (_, state) = op.IsIndeterminate ? model.StepIndeterminate(state, op.Input) : model.Step(state, op.Input, op.Output);
            steps[s] = new LinearizedOperation(indices[order[s]], model.DescribeState(state));
        }

        return steps;
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
        string? key,
        int[] indices,
        Operation<TInput, TOutput>[] ops,
        CheckOptions options,
        Stopwatch stopwatch,
        PartitionResult[] partitions,
        int violating)
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
        (Operation<TInput, TOutput>[] Ops, int[] Indices, int[] Order)? longest = null; // linearization of prefix lo
        while (hi - lo > 1)
        {
            var mid = lo + (hi - lo) / 2;
            var (prefix, prefixIndices) = Prefix(ops, callPos, returnPos, mid);
            var (outcome, order) = Search.RunWithLinearization(model, prefix, deadline, ref steps);
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
                longest = (prefix, prefixIndices, order!);
            }
        }

        if (options.RecordLinearizations)
        {
            var linearization = longest is { } l ? Replay(model, l.Ops, l.Order, l.Indices.Select(i => indices[i]).ToArray()) : [];
            partitions[violating] = partitions[violating] with { Linearization = linearization };
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

        partitions[violating] = partitions[violating] with { FailingOperation = indices[failing] };
        return new CheckResult(
            Verdict.NotLinearizable,
            sb.ToString().TrimEnd(),
            stopwatch.Elapsed,
            key,
            indices[failing],
            involved.Select(i => indices[i]).ToArray(),
            hi,
            partitions);
    }

    /// <summary>The operations called among the first <paramref name="length"/> events; those not returned by then
    /// become indeterminate (they may or may not have taken effect). Also returns their indices into <paramref name="ops"/>.</summary>
    private static (Operation<TInput, TOutput>[] Ops, int[] Indices) Prefix<TInput, TOutput>(
        Operation<TInput, TOutput>[] ops,
        int[] callPos,
        int[] returnPos,
        int length)
    {
        var prefix = new List<Operation<TInput, TOutput>>();
        var prefixIndices = new List<int>();
        for (var i = 0; i < ops.Length; i++)
        {
            if (callPos[i] < length)
            {
                prefix.Add(returnPos[i] < length ? ops[i] : ops[i] with { Output = default, Return = null });
                prefixIndices.Add(i);
            }
        }

        return (prefix.ToArray(), prefixIndices.ToArray());
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
