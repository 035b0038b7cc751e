using System.Diagnostics;

namespace OpenReplica.PlacementSim;

/// <summary>
/// One simulated day: the starting cluster, then every hour <see cref="SimSettings.EventsPerHour"/> random roster
/// changes (a silo joins, one leaves gracefully, one crashes and is removed after the grace period), and at mid-day
/// the failure of a whole fault domain (a rack) whose silos are then removed one by one. Deterministic from the seed.
/// </summary>
internal sealed class SimDay(SimSettings settings, TextWriter output)
{
    private readonly Random _random = new((int)(settings.Seed ^ (settings.Seed >> 32)));
    private readonly List<ChangeRecord> _changes = [];

    private sealed record ChangeRecord(string Kind, int RosterBefore, int Changed, double Ideal);

    public void Run()
    {
        settings.Validate();
        var clock = Stopwatch.StartNew();
        var grains = new uint[settings.Sample];
        for (int g = 0; g < grains.Length; g++) grains[g] = (uint)_random.NextInt64(0, 1L << 32);
        var cluster = new SimCluster(grains, settings.Replicas, settings.Domains);
        var initial = Enumerable.Range(0, settings.Silos).Select(i => cluster.AddSilo(NewId(), i % settings.Domains)).ToList();
        cluster.PlaceAll(initial);
        output.WriteLine($"# Placement simulation");
        output.WriteLine();
        output.WriteLine($"{settings.Silos} silos in {settings.Domains} fault domains, {settings.Grains:N0} grains ({settings.Sample:N0} simulated, each standing for {settings.Scale:0.#}), R = {settings.Replicas}, seed {settings.Seed}, {settings.Hours} h with {settings.EventsPerHour} roster events per hour.");
        output.WriteLine();
        ReportLoad(cluster, "At the start");

        for (int hour = 0; hour < settings.Hours; hour++)
        {
            if (hour == settings.Hours / 2) RackFailure(cluster);
            for (int e = 0; e < settings.EventsPerHour; e++) RandomEvent(cluster);
        }
        ReportLoad(cluster, "At the end of the day");
        ReportChanges();
        output.WriteLine($"Groups with two replicas in one domain (while the roster spans ≥ R domains): {cluster.SharedDomainSets()}.");
        output.WriteLine();
        output.WriteLine($"Simulated in {clock.Elapsed.TotalSeconds:0.0} s.");
    }

    private void RandomEvent(SimCluster cluster)
    {
        double roll = _random.NextDouble();
        // Keep the roster near its starting size: joins are likelier when it shrank, leaves when it grew.
        double joinChance = 0.4 + 0.2 * Math.Clamp((settings.Silos - cluster.RosterSize) / 10.0, -1, 1);
        if (roll < joinChance)
        {
            int before = cluster.RosterSize;
            int silo = cluster.AddSilo(NewId(), _random.Next(settings.Domains));
            int changed = cluster.Join(silo);
            _changes.Add(new ChangeRecord("join", before, changed, settings.Replicas * (double)settings.Sample / (before + 1)));
        }
        else
        {
            int silo = cluster.Roster[_random.Next(cluster.RosterSize)];
            bool crash = roll > 0.8;
            if (crash) cluster.Fail(silo);
            int before = cluster.RosterSize;
            var (changed, _) = cluster.Leave([silo]);
            _changes.Add(new ChangeRecord(crash ? "crash, removed after the grace period" : "graceful leave", before, changed, settings.Replicas * (double)settings.Sample / before));
        }
    }

    /// <summary>
    /// A whole domain fails. Counted as one roster change that removes all its silos (the meta group removes them
    /// one by one, but the copies they cause go to live silos either way).
    /// </summary>
    private void RackFailure(SimCluster cluster)
    {
        int domain = _random.Next(settings.Domains);
        var rack = cluster.Roster.Where(s => cluster.DomainOf(s) == domain).ToList();
        foreach (int silo in rack) cluster.Fail(silo);
        int majorityLost = cluster.MajorityLost();
        var (changed, receiving) = cluster.Leave(rack);
        var receivers = receiving.Where(n => n > 0).ToList();
        double scale = settings.Scale;
        double replicasLost = changed * scale;
        double bytesTotal = replicasLost * settings.GroupBytes;
        double maxIncoming = receivers.Count == 0 ? 0 : receivers.Max() * scale * settings.GroupBytes;
        double perSiloSeconds = maxIncoming / (settings.BandwidthMBps * 1e6);
        output.WriteLine($"## Rack failure (domain {domain}, {rack.Count} silos, mid-day)");
        output.WriteLine();
        output.WriteLine("| measure | value |");
        output.WriteLine("|---|---|");
        output.WriteLine($"| groups that lost a majority | {majorityLost * scale:N0} |");
        output.WriteLine($"| replicas to re-create | {replicasLost:N0} ({bytesTotal / 1e9:0.0} GB at {settings.GroupBytes:N0} B per group) |");
        output.WriteLine($"| silos receiving copies | {receivers.Count} |");
        output.WriteLine($"| copies into one silo (mean / max) | {(receivers.Count == 0 ? 0 : receivers.Average() * scale):N0} / {(receivers.Count == 0 ? 0 : receivers.Max() * scale):N0} |");
        output.WriteLine($"| time to re-replicate at {settings.BandwidthMBps} MB/s per silo (busiest receiver) | {perSiloSeconds:0.0} s |");
        output.WriteLine($"| same, one silo copying alone (no spreading) | {bytesTotal / (settings.BandwidthMBps * 1e6):0} s |");
        output.WriteLine();
    }

    private void ReportLoad(SimCluster cluster, string when)
    {
        var (replicas, leaders) = cluster.Load();
        var rosterReplicas = cluster.Roster.Select(s => replicas[s] * settings.Scale).ToList();
        var liveLeaders = cluster.Roster.Where(cluster.IsAlive).Select(s => leaders[s] * settings.Scale).ToList();
        output.WriteLine($"## {when} ({cluster.RosterSize} silos in the roster)");
        output.WriteLine();
        output.WriteLine("| per silo | mean | max | max / mean | min |");
        output.WriteLine("|---|---|---|---|---|");
        output.WriteLine($"| replicas | {rosterReplicas.Average():N0} | {rosterReplicas.Max():N0} | {rosterReplicas.Max() / rosterReplicas.Average():0.000} | {rosterReplicas.Min():N0} |");
        output.WriteLine($"| leaders (activations) | {liveLeaders.Average():N0} | {liveLeaders.Max():N0} | {liveLeaders.Max() / liveLeaders.Average():0.000} | {liveLeaders.Min():N0} |");
        output.WriteLine();
    }

    private void ReportChanges()
    {
        output.WriteLine("## Groups moved per roster change");
        output.WriteLine();
        output.WriteLine("Ideal: R·G/N, the replicas a joining silo should receive or a leaving one held.");
        output.WriteLine();
        output.WriteLine("| change | count | groups moved (mean) | ideal (mean) | moved / ideal mean | max |");
        output.WriteLine("|---|---|---|---|---|---|");
        foreach (var kind in _changes.GroupBy(c => c.Kind))
        {
            var ratios = kind.Select(c => c.Changed / c.Ideal).ToList();
            output.WriteLine($"| {kind.Key} | {kind.Count()} | {kind.Average(c => c.Changed) * settings.Scale:N0} | {kind.Average(c => c.Ideal) * settings.Scale:N0} | {ratios.Average():0.000} | {ratios.Max():0.000} |");
        }
        output.WriteLine();
    }

    private long NewId()
    {
        // Replica ids are 31-bit values derived from random identities, like ReplicaRoster.ToReplicaId.
        long id = _random.NextInt64(1, 0x7FFF_FFFF);
        return id;
    }
}
