namespace DocumentAnalysis;

/// <summary>The output of a run of <c>analyze-document</c>.</summary>
public sealed record AnalysisResult(string DocId, int Characters, string Analysis);
