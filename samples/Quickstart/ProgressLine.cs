using System.Diagnostics;
using Spectre.Console;

namespace Quickstart;

/// <summary>The live progress line (ops/s, acknowledged, retries, errors, phase), with events printed above it.</summary>
public sealed class ProgressLine(BankWorkload workload)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastCount;
    private TimeSpan _lastTime;
    private double _rate;

    public string Phase { get; set; } = "starting";

    public void Event(string markup) => AnsiConsole.MarkupLine($"[grey]{_clock.Elapsed.TotalSeconds,5:F1}s[/] {markup}");

    public async Task ShowWhileAsync(Func<Task> scenario)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            // Output redirected: a plain line every two seconds instead of a live one.
            using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
            var run = scenario();
            while (await Task.WhenAny(run, timer.WaitForNextTickAsync().AsTask()) != run)
            {
                AnsiConsole.MarkupLine(Render());
            }

            await run;
            return;
        }

        await AnsiConsole.Live(new Markup(Render())).StartAsync(async live =>
        {
            var run = scenario();
            while (await Task.WhenAny(run, Task.Delay(250)) != run)
            {
                live.UpdateTarget(new Markup(Render()));
            }

            live.UpdateTarget(new Markup(Render()));
            await run;
        });
    }

    private string Render()
    {
        var now = _clock.Elapsed;
        var count = workload.Acknowledged;
        if (now - _lastTime >= TimeSpan.FromSeconds(1))
        {
            _rate = (count - _lastCount) / (now - _lastTime).TotalSeconds;
            (_lastCount, _lastTime) = (count, now);
        }

        return $"[grey]{now.TotalSeconds,5:F1}s[/] [bold]{_rate,5:N0}[/] ops/s  acked [bold]{count:N0}[/]  retries {workload.Retries:N0}  "
            + $"errors {(workload.Errors == 0 ? "0" : $"[yellow]{workload.Errors:N0}[/]")}  [cyan]{Phase.EscapeMarkup()}[/]";
    }
}
