using Baton;
using DocumentAnalysis.Documents;
using DocumentAnalysis.Llm;

namespace DocumentAnalysis;

/// <summary>
/// The seed's pipeline: extract the text, have the LLM analyze it, save the result. Each step is retried on its own
/// and never runs again once it has completed, even across a crash of the process. A document that requires approval
/// then waits, durably and without holding a worker, for its <c>doc/approved</c> event (matched on <c>data.docId</c>),
/// or expires.
/// </summary>
public sealed class AnalyzeDocument(TextExtractor extractor, ILlmClient llm, DocumentStore documents, ApprovalSettings approvals)
    : IBatonFunction<DocUploaded, AnalysisResult>, IBatonFailureHandler
{
    public const string Id = "analyze-document";

    public async Task<AnalysisResult> RunAsync(FunctionContext<DocUploaded> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var doc = context.Event.Data;

        var text = await context.Step.Run("extract-text", () => extractor.ExtractAsync(doc.FileUrl, context.CancellationToken));

        var analysis = await context.Step.Run("claude-analysis", step => llm.AnalyzeAsync(text, step, context.CancellationToken));

        await context.Step.Run("save-result", () => documents.SaveAnalysis(doc.DocId, analysis, doc.RequireApproval ? "awaiting-approval" : "done"));

        if (doc.RequireApproval)
        {
            // An approval sent while the analysis was still running counts too: the look-back finds it.
            var approval = await context.Step.WaitForEvent<DocApproved>(
                "approval", "doc/approved", approvals.Timeout, match: "data.docId", lookback: TimeSpan.FromHours(1));
            await context.Step.Run("record-approval", () =>
            {
                if (approval is null)
                {
                    documents.SetStatus(doc.DocId, "expired");
                }
                else
                {
                    documents.Approve(doc.DocId, approval.Data.Approver);
                }
            });
        }

        context.Logger.LogInformation("Document {DocId} analyzed", doc.DocId);
        return new AnalysisResult(doc.DocId, text.Length, analysis);
    }

    public Task OnFailureAsync(FailureContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var doc = context.GetFailedEventData<DocUploaded>();
        return doc is null
            ? Task.CompletedTask
            : context.Step.Run("mark-failed", () => documents.MarkFailed(doc.DocId, context.Failure.Error?.Message ?? "unknown error"));
    }
}
