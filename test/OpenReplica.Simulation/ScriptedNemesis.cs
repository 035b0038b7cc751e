namespace OpenReplica.Simulation;

/// <summary>
/// A scripted fault: a few steps, taken on the simulation's fault ticks, that build one history random faults rarely
/// build (<see cref="ReAddNemesis"/>, <see cref="LateDropNemesis"/>, <see cref="NewMemberNemesis"/>). Random faults go
/// on meanwhile, and a step gives up when the group moved on in a way that makes it moot; stopping heals what the
/// nemesis cut.
/// </summary>
internal abstract class ScriptedNemesis(Simulation sim)
{
    /// <summary>Chance per fault tick that an idle nemesis starts (about once per 1,000 time units).</summary>
    protected const double StartChance = 0.01;

    /// <summary>How long a step may wait for the group before the nemesis gives up.</summary>
    protected const long GiveUpAfter = 3_000;

    protected Simulation Sim { get; } = sim;

    /// <summary>Takes the next step, if its time has come (called on every fault tick).</summary>
    public abstract void Tick();

    /// <summary>
    /// The leader of a group of three that names it, with its two other members in random order; false when there is
    /// none now (or a member is down, when <paramref name="allUp"/>).
    /// </summary>
    protected bool LeaderOfThree(bool allUp, out SimNode leader, out long first, out long second)
    {
        first = second = 0;
        leader = null!;
        if (Sim.Leader is not { Core: { } core } found) return false;
        var current = core.Configs.Latest;
        if (current.Members.Count != 3 || !current.Contains(found.Id)) return false;
        var others = current.Members.Where(id => id != found.Id).ToList();
        if (allUp && others.Any(id => Sim.Nodes[id].Core is null)) return false;
        leader = found;
        first = others[Sim.Random.Next(0, others.Count)];
        long picked = first;
        second = others.Single(id => id != picked);
        return true;
    }

    /// <summary>Ends the script: heals its cut and its filter, and goes back to idle.</summary>
    protected void Stop(string why)
    {
        Sim.Trace($"nemesis ends: {why}");
        Sim.HearOnlyVotes(null);
        Sim.Uncut();
        OnStopped();
    }

    /// <summary>Back to idle.</summary>
    protected abstract void OnStopped();
}
