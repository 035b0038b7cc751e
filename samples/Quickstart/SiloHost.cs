using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenReplica.Orleans;
using Orleans.Configuration;

namespace Quickstart;

/// <summary>What a silo process needs, passed on its command line: <c>--silo N --silo-port P --gateway-port G --primary-port S --data DIR</c>.</summary>
public sealed record SiloSpec(int Number, int SiloPort, int GatewayPort, int PrimaryPort, string DataDirectory)
{
    public string[] ToArgs() =>
        ["--silo", $"{Number}", "--silo-port", $"{SiloPort}", "--gateway-port", $"{GatewayPort}", "--primary-port", $"{PrimaryPort}", "--data", DataDirectory];

    public static SiloSpec Parse(string[] args)
    {
        string Get(string name) =>
            args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? throw new ArgumentException($"missing {name}");
        return new SiloSpec(int.Parse(Get("--silo")), int.Parse(Get("--silo-port")), int.Parse(Get("--gateway-port")),
            int.Parse(Get("--primary-port")), Get("--data"));
    }
}

/// <summary>The silo process: one Orleans silo on localhost with replicated grains persisted in its data directory.</summary>
public static class SiloHost
{
    /// <summary>Printed on stdout once the silo has started; the parent waits for it.</summary>
    public const string ReadyLine = "SILO READY";

    public static async Task<int> RunAsync(SiloSpec spec)
    {
        // The parent holds our stdin: when it goes away (even killed with -9), stdin ends and so do we.
        _ = Task.Run(() =>
        {
            while (Console.In.ReadLine() is not null)
            {
            }

            Process.GetCurrentProcess().Kill();
        });

        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning).AddFilter("OpenReplica", LogLevel.Information)
            .AddSimpleConsole(o => (o.SingleLine, o.TimestampFormat) = (true, "HH:mm:ss.fff "));
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(spec.SiloPort, spec.GatewayPort, new IPEndPoint(IPAddress.Loopback, spec.PrimaryPort));
            silo.AddReplicatedGrains(o =>
            {
                o.ReplicationFactor = 3;
                o.Mode = ReplicationMode.Persisted;
                o.DataDirectory = spec.DataDirectory;
                o.CallTimeout = TimeSpan.FromSeconds(5);
            });

            // Declare a killed silo dead within about a second.
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromMilliseconds(500);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 1;
                o.EnableIndirectProbes = false;
                o.ExtendProbeTimeoutDuringDegradation = false;
                o.TableRefreshTimeout = TimeSpan.FromMilliseconds(500);
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(1);
            });
        });

        using var host = builder.Build();
        await host.StartAsync();
        Console.WriteLine(ReadyLine);
        await host.WaitForShutdownAsync();
        return 0;
    }
}
