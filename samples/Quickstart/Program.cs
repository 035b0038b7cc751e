using Quickstart;
using Spectre.Console;

// `Quickstart --silo N ...` is a silo process started by the demo; without arguments this is the demo itself.
if (args.Length > 0 && args[0] == "--silo")
{
    return await SiloHost.RunAsync(SiloSpec.Parse(args));
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

try
{
    // The whole run is bounded: it normally takes about a minute (more on a busy machine).
    return await Demo.RunAsync(cancel.Token).WaitAsync(TimeSpan.FromMinutes(5), cancel.Token);
}
catch (OperationCanceledException)
{
    AnsiConsole.MarkupLine("[yellow]Interrupted.[/]");
    return 130;
}
catch (Exception exception)
{
    AnsiConsole.MarkupLine($"[red]The demo failed:[/] {exception.Message.EscapeMarkup()}");
    return 1;
}
