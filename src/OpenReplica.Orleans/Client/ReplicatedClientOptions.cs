using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>Retry of stamped calls to replicated grains (<c>UseReplicatedGrains</c> on clients; also used by silos).</summary>
public sealed class ReplicatedClientOptions
{
    public const int DefaultMaxRetries = 5;
    public static readonly TimeSpan DefaultInitialBackoff = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan DefaultMaxBackoff = TimeSpan.FromSeconds(5);

    /// <summary>Retries after the first attempt, each with the same stamp.</summary>
    public int MaxRetries { get; set; } = DefaultMaxRetries;

    /// <summary>Wait before the first retry; doubled for each further one, up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; set; } = DefaultInitialBackoff;

    public TimeSpan MaxBackoff { get; set; } = DefaultMaxBackoff;
}

/// <summary>Validates <see cref="ReplicatedClientOptions"/> at start-up; each message names the option.</summary>
internal sealed class ReplicatedClientOptionsValidator(IOptions<ReplicatedClientOptions> options) : IConfigurationValidator
{
    public void ValidateConfiguration()
    {
        var o = options.Value;
        const string Prefix = nameof(ReplicatedClientOptions) + ".";
        if (o.MaxRetries < 0)
        {
            throw new OrleansConfigurationException($"{Prefix}{nameof(o.MaxRetries)} is {o.MaxRetries}; it must be 0 or more.");
        }

        if (o.InitialBackoff < TimeSpan.Zero || o.MaxBackoff < o.InitialBackoff)
        {
            throw new OrleansConfigurationException(
                $"{Prefix}{nameof(o.InitialBackoff)} ({o.InitialBackoff}) must be non-negative and at most {Prefix}{nameof(o.MaxBackoff)} ({o.MaxBackoff}).");
        }
    }
}
