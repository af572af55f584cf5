namespace DocumentAnalysis.Llm;

/// <summary>What the pipeline needs from an LLM: an analysis of a text.</summary>
public interface ILlmClient
{
    /// <summary>Analyzes <paramref name="text"/>. Throws on failure; Baton retries the step.</summary>
    /// <param name="text">The document's text.</param>
    /// <param name="step">The step's idempotency key and attempt.</param>
    /// <param name="cancellationToken">Cancelled when the run must stop.</param>
    Task<string> AnalyzeAsync(string text, Baton.StepExecution step, CancellationToken cancellationToken);
}
