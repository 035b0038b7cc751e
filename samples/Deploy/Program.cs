using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using OpenReplica.Deploy;
using OpenReplica.Orleans;

// A silo host for replicated grains. Configuration, later sources winning:
//   appsettings.json next to the executable, each --config FILE in order, environment variables (Deploy__Clustering=redis,
//   Replication__DataDirectory=...), then command line switches (see SiloHost.Switches, or --help).
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(SiloHost.Usage);
    return 0;
}

try
{
    // `client COUNTER [N]`: a smoke check from any machine that reaches the membership store and the gateways.
    // `tls-cert FILE`: writes a self-signed certificate for --tls-cert (demo and test deployments).
    return args.Length > 0 && args[0] == "client" ? await SiloHost.RunClientAsync(args[1..])
        : args.Length > 0 && args[0] == "tls-cert" ? SiloHost.WriteCertificate(args[1..])
        : await SiloHost.RunAsync(args);
}
catch (Exception e) when (e is ArgumentException or IOException or FileNotFoundException or OrleansConfigurationException or InvalidOperationException)
{
    Console.Error.WriteLine($"silo: {e.Message}");
    return 2;
}

namespace OpenReplica.Deploy
{
    public static class SiloHost
    {
        /// <summary>Printed on stdout once the silo has joined the cluster: <c>SILO READY name address pid</c>.</summary>
        public const string ReadyLine = "SILO READY";

        /// <summary>Command line switches and the configuration keys they set.</summary>
        public static readonly IReadOnlyDictionary<string, string> Switches = new Dictionary<string, string>
        {
            ["--clustering"] = "Deploy:Clustering",
            ["--cluster-id"] = "Deploy:ClusterId",
            ["--service-id"] = "Deploy:ServiceId",
            ["--silo-name"] = "Deploy:SiloName",
            ["--advertise"] = "Deploy:AdvertisedAddress",
            ["--listen"] = "Deploy:ListenAddress",
            ["--silo-port"] = "Deploy:SiloPort",
            ["--gateway-port"] = "Deploy:GatewayPort",
            ["--primary-port"] = "Deploy:PrimarySiloPort",
            ["--redis"] = "Deploy:Redis",
            ["--postgres"] = "Deploy:Postgres",
            ["--fast-failure-detection"] = "Deploy:FastFailureDetection",
            ["--detect-pauses"] = "Deploy:DetectPauses",
            ["--tls-cert"] = "Deploy:TlsCertificate",
            ["--tls-password"] = "Deploy:TlsPassword",
            ["--exit-on-stdin-close"] = "Deploy:ExitWhenStdinCloses",
            ["--metrics-port"] = "Deploy:MetricsPort",
            ["--metrics-host"] = "Deploy:MetricsHost",
            ["--data"] = "Replication:DataDirectory",
            ["--replication-factor"] = "Replication:ReplicationFactor",
            ["--mode"] = "Replication:Mode",
            ["--call-timeout"] = "Replication:CallTimeout",
        };

        public static string Usage =>
            "OpenReplica silo host\n\n" +
            "  dotnet OpenReplica.Deploy.dll [--config FILE]... [--switch value]...\n\n" +
            "Switches (each also settable in JSON or as an environment variable, ':' written '__'):\n" +
            string.Join("\n", Switches.Select(s => $"  {s.Key,-26} {s.Value}")) + "\n\n" +
            "  --clustering is localhost | redis | postgres. Boolean switches take a value: --fast-failure-detection true.\n\n" +
            "  dotnet OpenReplica.Deploy.dll client [--config FILE]... [--switch value]... COUNTER [N]\n" +
            "  connects as a client of the same deployment, adds 1 to replicated counter COUNTER N times (default 1) and\n" +
            "  prints its value and the silo it runs on.\n" +
            "  dotnet OpenReplica.Deploy.dll tls-cert FILE [--tls-password PASSWORD]\n" +
            "  writes a new self-signed certificate and key (PKCS#12) for --tls-cert: give the same file to every silo and\n" +
            "  client (mutual TLS; anyone without it cannot join or call).\n" +
            "  See samples/Deploy/README.md.";

        public static async Task<int> RunAsync(string[] args)
        {
            var (builder, settings) = CreateBuilder(args);
            if (settings.ExitWhenStdinCloses)
            {
                ExitWhenStdinCloses();
            }

            builder.Logging.AddSimpleConsole(o => (o.SingleLine, o.TimestampFormat) = (true, "HH:mm:ss.fff "));
            builder.UseOrleans(silo =>
            {
                silo.UseClustering(settings);
                silo.UseDeploymentTls(settings);
                silo.AddReplicatedGrains(o => builder.Configuration.GetSection("Replication").Bind(o));
            });
            if (settings.MetricsPort is { } metricsPort) builder.AddPrometheusMetrics(settings.MetricsHost, metricsPort);

            using var host = builder.Build();
            await host.StartAsync();
            var local = host.Services.GetRequiredService<ILocalSiloDetails>();
            Console.WriteLine($"{ReadyLine} {local.Name} {local.SiloAddress} {Environment.ProcessId}");
            if (settings.MetricsPort is { } port) Console.WriteLine($"metrics: http://{settings.MetricsHost}:{port}/metrics");
            await host.WaitForShutdownAsync();
            return 0;
        }

        public static async Task<int> RunClientAsync(string[] args)
        {
            var positional = new List<string>();
            var options = new List<string>();
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i].StartsWith('-') && !args[i].Contains('=') && i + 1 < args.Length)
                {
                    options.Add(args[i]);
                    options.Add(args[++i]);
                }
                else if (args[i].StartsWith('-'))
                {
                    options.Add(args[i]);
                }
                else
                {
                    positional.Add(args[i]);
                }
            }

            if (positional.Count is < 1 or > 2)
            {
                throw new ArgumentException("usage: client [--config FILE]... [--switch value]... COUNTER [N]");
            }

            int count = positional.Count == 2 ? int.Parse(positional[1]) : 1;
            var (builder, settings) = CreateBuilder([.. options]);
            builder.Logging.ClearProviders().AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
            builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
            builder.UseOrleansClient(client => client.UseClustering(settings).UseDeploymentTls(settings).UseReplicatedGrains());
            using var host = builder.Build();
            await host.StartAsync();
            var counter = host.Services.GetRequiredService<IClusterClient>().GetGrain<ICounterGrain>(positional[0]);
            long value = 0;
            for (int i = 0; i < count; i++)
            {
                value = await counter.Add(1);
            }

            var where = await counter.WhereAmI();
            Console.WriteLine($"{positional[0]} = {value} (active on {where.Name} {where.Address})");
            await host.StopAsync();
            return 0;
        }

        public static int WriteCertificate(string[] args)
        {
            string? password = Environment.GetEnvironmentVariable("Deploy__TlsPassword");
            var files = new List<string>();
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i] == "--tls-password" && i + 1 < args.Length)
                {
                    password = args[++i];
                }
                else if (args[i].StartsWith('-'))
                {
                    throw new ArgumentException($"tls-cert: unknown option '{args[i]}'");
                }
                else
                {
                    files.Add(args[i]);
                }
            }

            if (files.Count != 1)
            {
                throw new ArgumentException("usage: tls-cert FILE [--tls-password PASSWORD]");
            }

            Tls.WriteSelfSigned(files[0], password);
            Console.WriteLine($"wrote a self-signed certificate ({Tls.DefaultSubjectName}, valid {Tls.DefaultValidity.TotalDays:F0} days) to {Path.GetFullPath(files[0])}");
            return 0;
        }

        private static (HostApplicationBuilder Builder, DeploySettings Settings) CreateBuilder(string[] args)
        {
            var (configFiles, rest) = SplitConfigFiles(args);
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
            {
                ContentRootPath = AppContext.BaseDirectory, // appsettings.json next to the executable, whatever the working directory
                DisableDefaults = false,
            });
            foreach (var file in configFiles)
            {
                var path = Path.GetFullPath(file);
                if (!File.Exists(path))
                {
                    throw new FileNotFoundException($"configuration file '{path}' not found");
                }

                builder.Configuration.AddJsonFile(path, optional: false, reloadOnChange: false);
            }

            builder.Configuration.AddEnvironmentVariables(); // again, so they override the --config files
            builder.Configuration.AddCommandLine(rest, Switches.ToDictionary());

            var settings = builder.Configuration.GetSection(DeploySettings.Section).Get<DeploySettings>() ?? new DeploySettings();
            var problems = settings.Validate().ToList();
            if (problems.Count > 0)
            {
                throw new ArgumentException(string.Join("; ", problems));
            }

            return (builder, settings);
        }

        /// <summary>Takes every <c>--config FILE</c> out of the arguments, in order.</summary>
        private static (List<string> Files, string[] Remaining) SplitConfigFiles(string[] args)
        {
            var files = new List<string>();
            var rest = new List<string>();
            for (int i = 0; i < args.Length; i++)
            {
                if (args[i] is "--config" or "-c")
                {
                    if (i + 1 >= args.Length)
                    {
                        throw new ArgumentException("--config needs a file name");
                    }

                    files.Add(args[++i]);
                }
                else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
                {
                    files.Add(args[i]["--config=".Length..]);
                }
                else
                {
                    rest.Add(args[i]);
                }
            }

            return (files, rest.ToArray());
        }

        /// <summary>When the parent holding our stdin goes away (even killed with -9), stdin ends and so do we.</summary>
        private static void ExitWhenStdinCloses() => _ = Task.Run(() =>
        {
            while (Console.In.ReadLine() is not null)
            {
            }

            Process.GetCurrentProcess().Kill();
        });
    }
}
