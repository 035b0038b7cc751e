using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using OpenReplica.Checker;

namespace OpenReplica.Cli;

/// <summary><c>openreplica check</c>: linearizability of recorded histories.</summary>
public static class CheckCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "Sequential model: cas-register (read/write/cas of one register), register (read/write only) or kv (get/put/append/delete/cas; keys checked independently)",
            Required = true,
        };
        model.AcceptOnlyFromAmong("cas-register", "register", "kv");

        var format = new Option<string>("--format", "-f")
        {
            Description = "History format: jsonl (OpenReplica JSON lines, see docs/checker.md), edn (Jepsen history.edn maps, one a line) or jepsen (Jepsen's jepsen.util register log)",
            Required = true,
        };
        format.AcceptOnlyFromAmong("jepsen", "jsonl", "edn");

        var initial = new Option<string>("--initial")
        {
            Description = "Value before any write: nil (default; absent, never written), or for kv 'empty' (every key starts as the empty string, as in Porcupine's kv model), or for the registers an integer (Knossos' cas-register starts at 0)",
            DefaultValueFactory = _ => "nil",
        };

        var html = new Option<string?>("--html")
        {
            Description = "Write an HTML page showing each partition's operations on a time line, the linearization found and, for a violation, the operation that cannot be placed. With several history files, a directory that receives FILE.html for each",
        };

        var parallelism = new Option<int>("--parallelism", "-j")
        {
            Description = "Threads searching partitions at the same time",
            DefaultValueFactory = _ => CheckOptions.DefaultParallelism,
        };
        parallelism.Validators.Add(r =>
        {
            if (r.Tokens.Count == 1 && int.TryParse(r.Tokens[0].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v < 1)
            {
                r.AddError("--parallelism must be at least 1");
            }
        });

        var timeout = new Option<double>("--timeout", "-t")
        {
            Description = "Time budget per file, in seconds; when it runs out the verdict is 'unknown'",
            DefaultValueFactory = _ => 10,
        };
        timeout.Validators.Add(r =>
        {
            // Unparseable values are reported by the parser itself; only judge numbers here.
            if (r.Tokens.Count == 1
                && double.TryParse(r.Tokens[0].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
                && (!(v > 0) || double.IsInfinity(v)))
            {
                r.AddError("--timeout must be a positive number of seconds");
            }
        });

        var maxSteps = new Option<long?>("--max-steps")
        {
            Description = "Search steps allowed per key (partition); one still undecided after them is 'unknown'. Unlike --timeout, the verdict does not depend on the machine or its load",
        };
        maxSteps.Validators.Add(r =>
        {
            if (r.Tokens.Count == 1 && long.TryParse(r.Tokens[0].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v < 1)
            {
                r.AddError("--max-steps must be at least 1");
            }
        });

        var explain = new Option<bool>("--explain", "-e")
        {
            Description = "Explain violations: smallest failing prefix and the operations involved",
        };

        var timing = new Option<bool>("--timing")
        {
            Description = "Append the time spent on each file",
        };

        var files = new Argument<string[]>("FILE")
        {
            Description = "History files",
            Arity = ArgumentArity.OneOrMore,
        };

        var command = new Command("check", "Check that recorded histories are linearizable")
        {
            model, format, initial, timeout, maxSteps, explain, timing, html, parallelism, files,
        };

        command.Validators.Add(r =>
        {
            if (r.GetValue(initial) is { } value && r.GetValue(model) is { } m && InitialError(m, value) is { } problem)
            {
                r.AddError(problem);
            }
        });

        command.SetAction(parse => Execute(
            new Request(
                parse.GetRequiredValue(model),
                parse.GetRequiredValue(format),
                parse.GetValue(initial) ?? "nil",
                parse.GetValue(html),
                parse.GetRequiredValue(files)),
            new CheckOptions
            {
                Budget = TimeSpan.FromSeconds(parse.GetValue(timeout)),
                MaxStepsPerPartition = parse.GetValue(maxSteps),
                Explain = parse.GetValue(explain) || parse.GetValue(html) is not null,
                Parallelism = parse.GetValue(parallelism),
                RecordLinearizations = parse.GetValue(html) is not null,
            },
            parse.GetValue(explain),
            parse.GetValue(timing),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>What to check and how to read it.</summary>
    private sealed record Request(string Model, string Format, string Initial, string? Html, string[] Files)
    {
        /// <summary>Where the HTML page of <paramref name="file"/> goes, or null without --html.</summary>
        public string? HtmlPathFor(string file)
            => Html is null ? null : Files.Length == 1 ? Html : Path.Combine(Html, Path.GetFileName(file) + ".html");
    }

    private static int Execute(Request request, CheckOptions options, bool explain, bool timing, TextWriter output, TextWriter error)
    {
        var exit = ExitCodes.Ok;
        if (request.Html is not null && request.Files.Length > 1)
        {
            Directory.CreateDirectory(request.Html);
        }

        foreach (var file in request.Files)
        {
            var stopwatch = Stopwatch.StartNew();
            CheckResult result;
            try
            {
                if (!File.Exists(file))
                {
                    error.WriteLine(Directory.Exists(file) ? $"{file}: is a directory, not a history file" : $"{file}: file not found");
                    exit = ExitCodes.BadInput;
                    continue;
                }

                result = CheckFile(request, file, options);
            }
            catch (HistoryFormatException e)
            {
                error.WriteLine(e.Message);
                exit = ExitCodes.BadInput;
                continue;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"{file}: {e.Message}");
                exit = ExitCodes.BadInput;
                continue;
            }

            var text = result.Verdict switch
            {
                Verdict.Linearizable => "linearizable",
                Verdict.NotLinearizable => "not linearizable",
                _ => result.UndecidedPartitions.All(k => k is null)
                    ? $"unknown ({BudgetName(result)})"
                    : $"unknown ({BudgetName(result)}; undecided: {Undecided(result.UndecidedPartitions)})",
            };
            if (timing)
            {
                text += string.Create(CultureInfo.InvariantCulture, $" ({stopwatch.Elapsed.TotalMilliseconds:0.0} ms)");
            }

            output.WriteLine($"{file}: {text}");
            if (explain && result.Verdict != Verdict.Linearizable && result.Explanation is { } why)
            {
                foreach (var line in why.Split('\n'))
                {
                    output.WriteLine("    " + line.TrimEnd('\r'));
                }
            }

            exit = (exit, result.Verdict) switch
            {
                (ExitCodes.BadInput, _) => ExitCodes.BadInput,
                (_, Verdict.NotLinearizable) => ExitCodes.Failed,
                (ExitCodes.Failed, _) => ExitCodes.Failed,
                (_, Verdict.Unknown) => ExitCodes.Unknown,
                _ => exit,
            };
        }

        return exit;
    }

    /// <summary>Why <paramref name="value"/> is not an initial value of <paramref name="model"/>, or null if it is.</summary>
    private static string? InitialError(string model, string value) => (model, value) switch
    {
        (_, "nil") => null,
        ("kv", "empty") => null,
        ("kv", _) => $"--initial for the kv model is nil or empty, not '{value}'",
        _ when long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _) => null,
        _ => $"--initial for the {model} model is nil or an integer, not '{value}'",
    };

    /// <summary>Which budget left the verdict unknown.</summary>
    private static string BudgetName(CheckResult result) => result.OutOfSteps ? "step budget" : "time budget";

    /// <summary>The undecided partitions' keys, the first few of them.</summary>
    private static string Undecided(IReadOnlyList<string?> keys)
    {
        const int Shown = 5;
        var names = string.Join(", ", keys.Take(Shown).Select(k => $"\"{k}\""));
        return keys.Count > Shown ? $"{names} and {keys.Count - Shown} more" : names;
    }

    private static CheckResult CheckFile(Request request, string file, CheckOptions options)
    {
        if (request.Model == "kv")
        {
            var kv = request.Format switch
            {
                "jsonl" => HistoryReader.ReadKeyValueFile(file),
                "edn" => EdnHistoryReader.ReadKeyValueFile(file),
                _ => ToKeyValue(JepsenLogReader.ReadFile(file)),
            };
            return Check(request, file, Models.KeyValueStartingWith(request.Initial == "empty" ? "" : null), kv, options);
        }

        var allowCas = request.Model == "cas-register";
        var history = request.Format switch
        {
            "jsonl" => HistoryReader.ReadRegisterFile(file, allowCas),
            "edn" => EdnHistoryReader.ReadRegisterFile(file, allowCas),
            _ => JepsenLogReader.ReadFile(file, allowCas),
        };
        long? start = request.Initial == "nil" ? null : long.Parse(request.Initial, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return Check(request, file, allowCas ? Models.CasRegisterStartingWith(start) : Models.RegisterStartingWith(start), history, options);
    }

    private static CheckResult Check<TState, TInput, TOutput>(
        Request request,
        string file,
        IModel<TState, TInput, TOutput> model,
        IReadOnlyList<Operation<TInput, TOutput>> history,
        CheckOptions options)
    {
        var result = Linearizability.Check(model, history, options);
        if (request.HtmlPathFor(file) is { } page)
        {
            HistoryHtml.WriteFile(page, model, history, result, Path.GetFileName(file));
        }

        return result;
    }

    /// <summary>A Jepsen register log read as a key-value history with a single key.</summary>
    private static List<Operation<KvInput, KvOutput>> ToKeyValue(IReadOnlyList<Operation<CasInput, CasOutput>> ops)
    {
        static string? S(long? v) => v?.ToString(CultureInfo.InvariantCulture);
        return ops.Select(o => new Operation<KvInput, KvOutput>(
            o.Process,
            new KvInput(o.Input.Op switch { CasOp.Read => KvOp.Get, CasOp.Write => KvOp.Put, _ => KvOp.Cas }, "register", S(o.Input.Value), S(o.Input.Expected)),
            o.Output is null ? null : new KvOutput(S(o.Output.Value), o.Output.Ok),
            o.Call,
            o.Return)).ToList();
    }
}
