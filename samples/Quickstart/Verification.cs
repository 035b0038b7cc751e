using Spectre.Console;

namespace Quickstart;

/// <summary>What one account's grain holds, compared with what the client recorded.</summary>
public sealed record AccountCheck(
    string Account,
    int Acknowledged,
    int Applied,
    int Missing,
    int Duplicated,
    int Unknown,
    int WrongEffect,
    int InDoubtApplied,
    long Balance,
    long ExpectedBalance,
    long Deposited,
    long ExpectedDeposited,
    bool StateConsistent)
{
    public bool Ok =>
        Missing == 0 && Duplicated == 0 && Unknown == 0 && WrongEffect == 0 && StateConsistent
        && Balance == ExpectedBalance && Deposited == ExpectedDeposited;
}

/// <summary>
/// Reads every account grain (linearizable reads) and checks it against the client's ledger:
/// every acknowledged operation is in the grain's log exactly once, with the effect the client was told;
/// nothing the client never sent is there; balance and total deposited equal the acknowledged operations
/// (plus operations in doubt, i.e. sent but never answered, that the grain did apply).
/// </summary>
public static class Verification
{
    public static async Task<IReadOnlyList<AccountCheck>> CheckAsync(IGrainFactory grains, IReadOnlyCollection<OpRecord> ledger)
    {
        var checks = new List<AccountCheck>();
        foreach (var account in BankWorkload.Accounts)
        {
            var state = await grains.GetGrain<IAccountGrain>(account).GetState();
            var sent = ledger.Where(op => op.Account == account).ToDictionary(op => op.Id);
            var acknowledged = sent.Values.Where(op => op.Acknowledged).ToList();
            var timesApplied = state.Applied.GroupBy(a => a.Id).ToDictionary(g => g.Key, g => g.Count());
            var inDoubtApplied = state.Applied.Where(a => sent.TryGetValue(a.Id, out var op) && !op.Acknowledged).DistinctBy(a => a.Id).ToList();

            checks.Add(new AccountCheck(
                account,
                Acknowledged: acknowledged.Count,
                Applied: state.Applied.Count,
                Missing: acknowledged.Count(op => !timesApplied.ContainsKey(op.Id)),
                Duplicated: timesApplied.Count(t => t.Value > 1),
                Unknown: state.Applied.Count(a => !sent.ContainsKey(a.Id)),
                WrongEffect: state.Applied.Count(a => sent.TryGetValue(a.Id, out var op) && op.Acknowledged && op.Delta != a.Delta),
                InDoubtApplied: inDoubtApplied.Count,
                Balance: state.Balance,
                ExpectedBalance: acknowledged.Sum(op => op.Delta) + inDoubtApplied.Sum(a => a.Delta),
                Deposited: state.Deposited,
                ExpectedDeposited: acknowledged.Where(op => op.Kind == OpKind.Deposit).Sum(op => op.Amount)
                    + inDoubtApplied.Where(a => a.Delta > 0).Sum(a => a.Delta),
                StateConsistent: state.Balance == state.Applied.Sum(a => a.Delta) && state.Balance == state.Deposited - state.Withdrawn));
        }

        return checks;
    }

    public static Table AccountsTable(IReadOnlyList<AccountCheck> checks)
    {
        var table = new Table().Title("Grains vs. the client's ledger").Border(TableBorder.Rounded);
        foreach (var column in new[] { "Account", "Acked", "In log", "Lost", "Twice", "Unknown", "Balance", "Deposited", "Check" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        foreach (var c in checks)
        {
            table.AddRow(
                c.Account, $"{c.Acknowledged:N0}", $"{c.Applied:N0}", Count(c.Missing), Count(c.Duplicated), Count(c.Unknown + c.WrongEffect),
                Compare(c.Balance, c.ExpectedBalance), Compare(c.Deposited, c.ExpectedDeposited),
                c.Ok ? "[green]ok[/]" : "[red]MISMATCH[/]");
        }

        return table.Caption("[grey]In log: operations in the grain's state; Lost: acknowledged but not there; Twice: applied more than once; "
            + "Balance/Deposited: the grain's value, equal to the sum of the acknowledged operations (else: grain != client).[/]");

        static string Count(int n) => n == 0 ? "0" : $"[red]{n}[/]";

        static string Compare(long grain, long client) => grain == client ? $"{grain:N0}" : $"[red]{grain:N0} != {client:N0}[/]";
    }
}
