using Baton;
using DocumentAnalysis.Documents;

namespace DocumentAnalysis;

/// <summary>
/// Fans out: one run of <see cref="AnalyzeDocument"/> per document of the batch, all waited for together with
/// <c>Step.BatchInvoke</c> (durably: the batch run holds no worker while its children run), then records the totals.
/// </summary>
public sealed class AnalyzeBatch(DocumentStore documents) : IBatonFunction<BatchRequested, BatchTotals>
{
    public const string Id = "analyze-batch";

    public async Task<BatchTotals> RunAsync(FunctionContext<BatchRequested> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var batch = context.Event.Data;
        var results = await context.Step.BatchInvoke<AnalysisResult>(
            "analyze-all",
            AnalyzeDocument.Id,
            batch.Documents.Select(d => (object?)new DocUploaded(d.DocId, d.FileUrl, RequireApproval: false)));

        var totals = new BatchTotals(results.Count, results.Count(r => r.Succeeded), results.Count(r => !r.Succeeded));
        await context.Step.Run("save-totals", () => documents.FinishBatch(batch.BatchId, totals.Succeeded, totals.Failed));
        return totals;
    }
}

/// <summary>The output of a batch run.</summary>
public sealed record BatchTotals(int Total, int Succeeded, int Failed);
