namespace OpenReplica.Orleans;

/// <summary>
/// Names to subscribe to OpenReplica's metrics and traces, for example with OpenTelemetry:
/// <c>.WithMetrics(m =&gt; m.AddMeter(OpenReplicaTelemetry.MeterName))</c> and
/// <c>.WithTracing(t =&gt; t.AddSource(OpenReplicaTelemetry.ActivitySourceName))</c>.
/// Every instrument is listed in docs/observability.md.
/// </summary>
public static class OpenReplicaTelemetry
{
    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/> every OpenReplica instrument is created on.</summary>
    public const string MeterName = "OpenReplica";

    /// <summary>
    /// The <see cref="System.Diagnostics.ActivitySource"/> of OpenReplica's spans: a replicated call's
    /// <c>openreplica.propose</c>, <c>openreplica.choose</c> and <c>openreplica.apply</c>, children of Orleans' call activity.
    /// </summary>
    public const string ActivitySourceName = "OpenReplica";
}
