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
            Description = "Sequential model: cas-register (read/write/cas of one register), register (read/write only) or kv (keys checked independently)",
            Required = true,
        };
        model.AcceptOnlyFromAmong("cas-register", "register", "kv");

        var format = new Option<string>("--format", "-f")
        {
            Description = "History format: jepsen (Jepsen register log) or jsonl (OpenReplica JSON lines, see docs/checker.md)",
            Required = true,
        };
        format.AcceptOnlyFromAmong("jepsen", "jsonl");

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
            model, format, timeout, explain, timing, files,
        };

        command.SetAction(parse => Execute(
            parse.GetRequiredValue(model),
            parse.GetRequiredValue(format),
            TimeSpan.FromSeconds(parse.GetValue(timeout)),
            parse.GetValue(explain),
            parse.GetValue(timing),
            parse.GetRequiredValue(files),
            parse.InvocationConfiguration.Output,
            parse.InvocationConfiguration.Error));
        return command;
    }

    private static int Execute(string model, string format, TimeSpan budget, bool explain, bool timing, string[] files, TextWriter output, TextWriter error)
    {
        var exit = ExitCodes.Ok;
        var options = new CheckOptions { Budget = budget, Explain = explain };
        foreach (var file in files)
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

                result = CheckFile(model, format, file, options);
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
                _ => "unknown (time budget)",
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

    private static CheckResult CheckFile(string model, string format, string file, CheckOptions options)
    {
        if (model == "kv")
        {
            var kv = format == "jsonl"
                ? HistoryReader.ReadKeyValueFile(file)
                : ToKeyValue(JepsenLogReader.ReadFile(file));
            return Linearizability.Check(Models.KeyValue, kv, options);
        }

        var allowCas = model == "cas-register";
        var history = format == "jsonl"
            ? HistoryReader.ReadRegisterFile(file, allowCas)
            : JepsenLogReader.ReadFile(file, allowCas);
        return Linearizability.Check(allowCas ? Models.CasRegister : Models.Register, history, options);
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
