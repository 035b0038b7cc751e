using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace OpenReplica.Consensus;

/// <summary>
/// Thrown when an internal invariant of the consensus core breaks. A replica that throws this must stop:
/// continuing could corrupt the replicated log, so the check runs in Release builds too.
/// </summary>
public sealed class InvariantViolationException(string message) : Exception(message);

/// <summary>Release-mode assertions (TigerBeetle style): a broken invariant stops the replica.</summary>
public static class Invariant
{
    /// <summary>Throws <see cref="InvariantViolationException"/> when <paramref name="condition"/> is false, in Release builds too.</summary>
    /// <param name="condition">What must hold.</param>
    /// <param name="expression">Filled in by the compiler with the text of <paramref name="condition"/>.</param>
    /// <param name="member">Filled in by the compiler with the calling member's name.</param>
    public static void Assert(
        [DoesNotReturnIf(false)] bool condition,
        [CallerArgumentExpression(nameof(condition))] string? expression = null,
        [CallerMemberName] string? member = null)
    {
        if (!condition)
        {
            throw new InvariantViolationException($"invariant broken in {member}: {expression}");
        }
    }
}
