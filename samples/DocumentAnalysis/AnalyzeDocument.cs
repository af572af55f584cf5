using Baton;
using DocumentAnalysis.Documents;
using DocumentAnalysis.Llm;

namespace DocumentAnalysis;

/// <summary>
/// The seed's pipeline: extract the text, have the LLM analyze it, save the result. Each step is retried on its own
/// and never runs again once it has completed, even across a crash of the process.
/// </summary>
public sealed class AnalyzeDocument(TextExtractor extractor, ILlmClient llm, DocumentStore documents)
    : IBatonFunction<DocUploaded, AnalysisResult>, IBatonFailureHandler
{
    public const string Id = "analyze-document";

    public async Task<AnalysisResult> RunAsync(FunctionContext<DocUploaded> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var doc = context.Event.Data;

        var text = await context.Step.Run("extract-text", () => extractor.ExtractAsync(doc.FileUrl, context.CancellationToken));

        var analysis = await context.Step.Run("claude-analysis", step => llm.AnalyzeAsync(text, step, context.CancellationToken));

        await context.Step.Run("save-result", () => documents.SaveAnalysis(doc.DocId, analysis));

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
