using Microsoft.CodeAnalysis;

namespace OpenReplica.Analyzers;

/// <summary>
/// The determinism rules for replicated grains. Each has an id, a title, and a help page (a section of
/// docs/determinism.md). Suppress one with <c>#pragma warning disable ORD00x // why</c> or
/// <c>[SuppressMessage("OpenReplica.Determinism", "ORD00x", Justification = "why")]</c>.
/// </summary>
internal static class DeterminismRules
{
    public const string Category = "OpenReplica.Determinism";
    private const string HelpBase = "https://github.com/openreplica/openreplica-orleans/blob/main/docs/determinism.md#";

    public static readonly DiagnosticDescriptor WallClock = Rule(
        "ORD001", "Wall clock read in a replicated method",
        "'{0}' reads the wall clock in {1}; replay on another replica gets another time: use Replicated.Now",
        "ord001-wall-clock");

    public static readonly DiagnosticDescriptor Randomness = Rule(
        "ORD002", "Randomness or fresh identity in a replicated method",
        "'{0}' draws randomness or a fresh identity in {1}; replay gets other values: use Replicated.Random or Replicated.NewGuid()",
        "ord002-randomness-and-identity");

    public static readonly DiagnosticDescriptor InputOutput = Rule(
        "ORD003", "I/O in a replicated method",
        "'{0}' does I/O (files, network, console, environment, processes) in {1}; it runs again on every replay and its result may differ: move it out of the state change",
        "ord003-io");

    public static readonly DiagnosticDescriptor TimerOrDelay = Rule(
        "ORD004", "Timer or delay in a replicated method",
        "'{0}' starts a timer or a delay in {1}; timing is not part of the log: schedule outside the state change and send a command when it fires",
        "ord004-timers-and-delays");

    public static readonly DiagnosticDescriptor GrainCall = Rule(
        "ORD005", "Call to another grain in a replicated method",
        "'{0}' calls another grain in {1}; the call would be repeated on replay and its answer is not in the log: call it after the state change",
        "ord005-calls-to-other-grains");

    public static readonly DiagnosticDescriptor StaticWrite = Rule(
        "ORD006", "Static field written in a replicated method",
        "'{0}' is a static member written in {1}; static state is not replicated and replay writes it again: keep it in State",
        "ord006-static-writes");

    public static readonly DiagnosticDescriptor Threading = Rule(
        "ORD007", "Thread or parallel work in a replicated method",
        "'{0}' runs work on other threads or picks whichever finishes first in {1}; order and timing differ between replicas: run it sequentially",
        "ord007-threads-and-parallel-loops");

    public static readonly DiagnosticDescriptor ForeignAwait = Rule(
        "ORD008", "Await of work outside the replicated call",
        "'{0}' awaits something that is not part of the replicated call in {1}; its outcome is not in the log: await only this grain's own methods",
        "ord008-awaits-outside-the-call");

    public static readonly DiagnosticDescriptor ReadOnlyWritesState = Rule(
        "ORD009", "[ReadOnly] method changes State",
        "'{0}' changes State in {1}, which is [ReadOnly] and skips the log: the change is lost on failover and never reaches other replicas",
        "ord009-readonly-method-changes-state");

    public static readonly DiagnosticDescriptor ReadOnlyCallsCommand = Rule(
        "ORD010", "[ReadOnly] method calls a state-changing method",
        "'{0}' changes state but is called from {1}, which is [ReadOnly] and skips the log: the change is lost on failover",
        "ord010-readonly-method-calls-a-state-changing-method");

    private static DiagnosticDescriptor Rule(string id, string title, string message, string anchor) =>
        new(id, title, message, Category, DiagnosticSeverity.Warning, isEnabledByDefault: true,
            description: "Replicated grain methods run again on replay and on every new activation; they must compute the same result from State, their arguments and Replicated.",
            helpLinkUri: HelpBase + anchor);
}
