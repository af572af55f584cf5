namespace DocumentAnalysis.Documents;

/// <summary>Fetches a document's text from an http(s) or file URL.</summary>
public sealed class TextExtractor(HttpClient http)
{
    /// <summary>The most text passed on to the model.</summary>
    public const int MaxCharacters = 100_000;

    public async Task<string> ExtractAsync(string fileUrl, CancellationToken cancellationToken)
    {
        var uri = new Uri(fileUrl);
        var text = uri.Scheme switch
        {
            "file" => await File.ReadAllTextAsync(uri.LocalPath, cancellationToken),
            _ => await http.GetStringAsync(uri, cancellationToken),
        };
        return text.Length > MaxCharacters ? text[..MaxCharacters] : text;
    }
}
