using OpenReplica.Checker;
using static OpenReplica.Checker.Tests.H;

namespace OpenReplica.Checker.Tests;

public class RegisterTests
{
    [Fact]
    public void EmptyHistoryIsLinearizable()
        => Assert.Equal(Verdict.Linearizable, CheckCas());

    [Fact]
    public void ReadOfNeverWrittenRegisterIsNil()
    {
        Assert.Equal(Verdict.Linearizable, CheckRegister(Read(0, null, 0, 1)));
        Assert.Equal(Verdict.NotLinearizable, CheckRegister(Read(0, 0, 0, 1)));
    }

    [Fact]
    public void SequentialWriteThenRead()
    {
        Assert.Equal(Verdict.Linearizable, CheckRegister(Write(0, 1, 0, 1), Read(1, 1, 2, 3)));
        Assert.Equal(Verdict.NotLinearizable, CheckRegister(Write(0, 1, 0, 1), Read(1, null, 2, 3)));
    }

    [Fact]
    public void ReadOfValueNeverWrittenFails()
        => Assert.Equal(Verdict.NotLinearizable, CheckRegister(Write(0, 1, 0, 10), Write(1, 2, 0, 10), Read(2, 3, 1, 12)));

    [Fact]
    public void StaleReadFails()
        => Assert.Equal(Verdict.NotLinearizable, CheckRegister(Write(0, 1, 0, 1), Write(0, 2, 2, 3), Read(1, 1, 4, 5)));

    [Theory]
    [InlineData(1L)]
    [InlineData(2L)]
    public void ConcurrentWritesEitherOrderIsFine(long seen)
        => Assert.Equal(Verdict.Linearizable, CheckRegister(Write(0, 1, 0, 10), Write(1, 2, 0, 10), Read(2, seen, 11, 12)));

    [Fact]
    public void ConcurrentWritesCannotFlipBack()
    {
        // After both writes complete, the register holds one of the values for good.
        Assert.Equal(
            Verdict.NotLinearizable,
            CheckRegister(Write(0, 1, 0, 10), Write(1, 2, 0, 10), Read(2, 1, 11, 12), Read(2, 2, 13, 14), Read(3, 1, 15, 16)));
    }

    [Fact]
    public void ReadsConcurrentWithWriteMaySeeOldThenNewButNotNewThenOld()
    {
        Assert.Equal(Verdict.Linearizable, CheckRegister(Write(0, 1, 0, 1), Write(0, 2, 2, 20), Read(1, 1, 3, 4), Read(1, 2, 5, 6)));
        Assert.Equal(Verdict.NotLinearizable, CheckRegister(Write(0, 1, 0, 1), Write(0, 2, 2, 20), Read(1, 2, 3, 4), Read(1, 1, 5, 6)));
    }

    [Fact]
    public void TouchingIntervalsCountAsConcurrent()
        => Assert.Equal(Verdict.Linearizable, CheckRegister(Read(1, 5, 0, 3), Write(0, 5, 3, 4)));

    [Fact]
    public void IndeterminateWriteObservedLater()
        => Assert.Equal(Verdict.Linearizable, CheckRegister(Write(0, 1, 0, null), Read(1, 1, 5, 6), Read(1, 1, 7, 8)));

    [Fact]
    public void IndeterminateWriteNeverObserved()
        => Assert.Equal(Verdict.Linearizable, CheckRegister(Write(0, 1, 0, null), Read(1, null, 5, 6), Read(1, null, 7, 8)));

    [Fact]
    public void IndeterminateWriteTakesEffectAtMostOnce()
        => Assert.Equal(
            Verdict.NotLinearizable,
            CheckRegister(Write(0, 1, 0, 1), Write(2, 7, 2, null), Read(1, 7, 5, 6), Read(1, 1, 7, 8), Read(1, 7, 9, 10)));

    [Fact]
    public void IndeterminateWriteCannotTakeEffectBeforeItsCall()
        => Assert.Equal(Verdict.NotLinearizable, CheckRegister(Read(1, 1, 0, 1), Write(0, 1, 2, null)));

    [Fact]
    public void IndeterminateReadConstrainsNothing()
        => Assert.Equal(Verdict.Linearizable, CheckRegister(Read(0, 99, 0, null), Write(1, 1, 1, 2)));

    [Fact]
    public void RegisterModelRejectsCas()
        => Assert.Throws<NotSupportedException>(() => CheckRegister(Cas(0, null, 1, true, 0, 1)));

    [Fact]
    public void ReturnBeforeCallIsRejected()
        => Assert.Throws<ArgumentException>(() => CheckRegister(Read(0, null, 5, 4)));

    [Fact]
    public void CasOnFreshRegister()
    {
        Assert.Equal(Verdict.Linearizable, CheckCas(Cas(0, null, 1, true, 0, 1), Read(0, 1, 2, 3)));
        Assert.Equal(Verdict.Linearizable, CheckCas(Cas(0, 0, 1, false, 0, 1), Read(0, null, 2, 3)));
        Assert.Equal(Verdict.NotLinearizable, CheckCas(Cas(0, 0, 1, true, 0, 1)));
        Assert.Equal(Verdict.NotLinearizable, CheckCas(Cas(0, null, 1, false, 0, 1)));
    }

    [Fact]
    public void FailedCasHasNoEffect()
        => Assert.Equal(Verdict.NotLinearizable, CheckCas(Write(0, 1, 0, 1), Cas(0, 2, 3, false, 2, 3), Read(0, 3, 4, 5)));

    [Fact]
    public void OnlyOneOfTwoConcurrentIdenticalCasesCanSucceed()
    {
        Assert.Equal(Verdict.NotLinearizable, CheckCas(Write(0, 0, 0, 1), Cas(1, 0, 1, true, 2, 5), Cas(2, 0, 2, true, 2, 5)));
        Assert.Equal(Verdict.Linearizable, CheckCas(Write(0, 0, 0, 1), Cas(1, 0, 1, true, 2, 5), Cas(2, 0, 2, false, 2, 5), Read(0, 1, 6, 7)));
        Assert.Equal(Verdict.NotLinearizable, CheckCas(Write(0, 0, 0, 1), Cas(1, 0, 1, true, 2, 5), Cas(2, 0, 2, false, 2, 5), Read(0, 2, 6, 7)));
    }

    [Fact]
    public void ConcurrentCasChainsMustBeOrdered()
        => Assert.Equal(
            Verdict.Linearizable,
            CheckCas(Write(0, 0, 0, 1), Cas(2, 1, 2, true, 2, 10), Cas(1, 0, 1, true, 3, 10), Read(0, 2, 11, 12)));

    [Fact]
    public void IndeterminateCasMayApplyOrNot()
    {
        Assert.Equal(Verdict.Linearizable, CheckCas(Write(0, 0, 0, 1), Cas(1, 0, 5, true, 2, null), Read(0, 5, 10, 11)));
        Assert.Equal(Verdict.Linearizable, CheckCas(Write(0, 0, 0, 1), Cas(1, 0, 5, true, 2, null), Read(0, 0, 10, 11)));
        // If it applies it compares at its linearization point: it cannot turn 3 into 5.
        Assert.Equal(Verdict.NotLinearizable, CheckCas(Write(0, 3, 0, 1), Cas(1, 0, 5, true, 2, null), Read(0, 5, 10, 11)));
    }

    [Fact]
    public void WriteKnownToHaveFailedHasNoEffect()
    {
        var failed = new Operation<CasInput, CasOutput>(1, new CasInput(CasOp.Write, 9), new CasOutput(null, false), 2, 3);
        Assert.Equal(Verdict.Linearizable, CheckCas(Write(0, 1, 0, 1), failed, Read(0, 1, 4, 5)));
        Assert.Equal(Verdict.NotLinearizable, CheckCas(Write(0, 1, 0, 1), failed, Read(0, 9, 4, 5)));
    }
}
