using Baton;
using DocumentAnalysis;
using DocumentAnalysis.Documents;
using DocumentAnalysis.Llm;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

// Static sample documents ship next to the binary, so they are served whatever the content root is.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot") });

builder.Services.AddProblemDetails();
builder.Services.AddSingleton<DocumentStore>();
builder.Services.AddHttpClient<TextExtractor>(http => http.Timeout = TimeSpan.FromSeconds(30));
var apiKey = builder.Configuration["ANTHROPIC_API_KEY"];
if (string.IsNullOrWhiteSpace(apiKey))
{
    builder.Services.AddSingleton<ILlmClient, FakeLlmClient>();
}
else
{
    var model = builder.Configuration["ANTHROPIC_MODEL"] ?? "claude-sonnet-4-6";
    builder.Services.AddHttpClient(nameof(AnthropicLlmClient), http => http.Timeout = TimeSpan.FromMinutes(5));
    builder.Services.AddSingleton<ILlmClient>(sp => new AnthropicLlmClient(
        sp.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(AnthropicLlmClient)), apiKey, model));
}

// Baton runs in this process, on baton.db in the content root: no server, no Docker. With BATON_POSTGRES set to a
// connection string it runs on PostgreSQL instead, so several copies of this app share one database and the work.
var postgres = builder.Configuration["BATON_POSTGRES"];
builder.Services.AddBaton(baton => (string.IsNullOrWhiteSpace(postgres) ? baton : baton.UsePostgreSql(postgres))
    .AddFunction<AnalyzeDocument>(AnalyzeDocument.Id, f =>
    {
        f.TriggerOn("doc/uploaded");
        f.Retries = 3;
        f.Backoff = Backoff.Exponential(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30));
    }));

var app = builder.Build();
app.UseExceptionHandler();
app.UseStaticFiles();

app.MapPost("/documents", async (NewDocument? request, DocumentStore documents, IBatonClient baton, CancellationToken cancellationToken) =>
{
    if (request is null || !Uri.TryCreate(request.FileUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https" or "file"))
    {
        return Results.Problem(
            title: "Invalid document",
            detail: "Send {\"fileUrl\": \"...\"} with an absolute http, https or file URL.",
            statusCode: StatusCodes.Status400BadRequest);
    }

    var docId = Guid.CreateVersion7().ToString("N");
    documents.Add(docId, url.ToString());

    // The event id makes a retried send harmless: Baton accepts an id once.
    await baton.SendAsync(new BatonEvent("doc/uploaded", new DocUploaded(docId, url.ToString())) { Id = "doc-uploaded-" + docId }, cancellationToken);
    return Results.Accepted($"/documents/{docId}", new { docId });
});

app.MapGet("/documents/{docId}", (string docId, DocumentStore documents) =>
    documents.Find(docId) is { } doc
        ? Results.Ok(new { docId = doc.DocId, status = doc.Status, analysis = doc.Analysis, error = doc.Error })
        : Results.Problem(title: "Not found", detail: $"There is no document '{docId}'.", statusCode: StatusCodes.Status404NotFound));

app.Lifetime.ApplicationStarted.Register(() =>
{
    var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
        ?? "http://localhost:5000";
    var llm = string.IsNullOrWhiteSpace(apiKey) ? "a local fake LLM (set ANTHROPIC_API_KEY for Claude)" : "Claude via the Anthropic API";
    Console.WriteLine($$"""

        Baton document analysis is running at {{address}}, analyzing with {{llm}}.
        State: {{(string.IsNullOrWhiteSpace(postgres) ? Path.Combine(app.Environment.ContentRootPath, "baton.db") : "PostgreSQL (BATON_POSTGRES)")}} (Baton) and documents.db (this app).

        Analyze a document:
          curl -s -X POST {{address}}/documents -H 'Content-Type: application/json' -d '{"fileUrl": "{{address}}/samples/contract.txt"}'
        Then read the result (use the docId printed by the first command):
          curl -s {{address}}/documents/<docId>

        Stop the app at any moment (Ctrl+C, or kill -9) and start it again: runs resume, and completed steps do not run again.

        """);
});

app.Run();

/// <summary>The body of <c>POST /documents</c>.</summary>
internal sealed record NewDocument(string? FileUrl);
