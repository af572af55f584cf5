using Baton;
using Baton.AspNetCore;
using DocumentAnalysis;
using DocumentAnalysis.Documents;
using DocumentAnalysis.Llm;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

// Static sample documents ship next to the binary, so they are served whatever the content root is.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot") });

builder.Services.AddProblemDetails();
builder.Services.AddSingleton<DocumentStore>();
builder.Services.AddSingleton(new ApprovalSettings(
    TimeSpan.TryParse(builder.Configuration["APPROVAL_TIMEOUT"], System.Globalization.CultureInfo.InvariantCulture, out var approvalTimeout) && approvalTimeout > TimeSpan.Zero
        ? approvalTimeout
        : TimeSpan.FromDays(7)));
builder.Services.AddHttpClient<TextExtractor>(http => http.Timeout = TimeSpan.FromSeconds(30));
var apiKey = builder.Configuration["ANTHROPIC_API_KEY"];
if (string.IsNullOrWhiteSpace(apiKey))
{
    builder.Services.AddSingleton<ILlmClient, FakeLlmClient>();
}
else
{
    var model = builder.Configuration["ANTHROPIC_MODEL"] ?? "claude-sonnet-4-6";
    builder.Services.AddHttpClient(nameof(AnthropicLlmClient), http => http.Timeout = TimeSpan.FromMinutes(5)).AddBatonRetries();
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
    })
    .AddFunction<AnalyzeBatch>(AnalyzeBatch.Id, f => f.TriggerOn("batch/requested")));

// Baton's HTTP API and dashboard under /baton. The sample listens on localhost, so they are open by default; with
// BATON_API_KEYS set (comma-separated) they need one of those keys, and the dashboard asks for it once.
var batonKeys = (builder.Configuration["BATON_API_KEYS"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
if (batonKeys.Length > 0)
{
    builder.Services.AddBatonApiKeys(o =>
    {
        foreach (var key in batonKeys)
        {
            o.Keys.Add(BatonApiKeys.Parse(key));
        }
    });
}

var app = builder.Build();
app.UseExceptionHandler();
app.UseStaticFiles();
var batonApi = app.MapGroup("/baton").MapBaton();
if (batonKeys.Length > 0)
{
    app.UseAuthentication();
    app.UseAuthorization();
    batonApi.RequireAuthorization(BatonApiKeys.Policy);
}

app.MapPost("/documents", async (NewDocument? request, DocumentStore documents, IBatonClient baton, CancellationToken cancellationToken) =>
{
    if (request is null || !Uri.TryCreate(request.FileUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https" or "file"))
    {
        return Results.Problem(
            title: "Invalid document",
            detail: "Send {\"fileUrl\": \"...\", \"requireApproval\": true|false} with an absolute http, https or file URL.",
            statusCode: StatusCodes.Status400BadRequest);
    }

    var docId = Guid.CreateVersion7().ToString("N");
    documents.Add(docId, url.ToString());

    // The event id makes a retried send harmless: Baton accepts an id once.
    var uploaded = new DocUploaded(docId, url.ToString(), request.RequireApproval ?? true);
    await baton.SendAsync(new BatonEvent("doc/uploaded", uploaded) { Id = "doc-uploaded-" + docId }, cancellationToken);
    return Results.Accepted($"/documents/{docId}", new { docId });
});

app.MapGet("/documents/{docId}", (string docId, DocumentStore documents) =>
    documents.Find(docId) is { } doc
        ? Results.Ok(new { docId = doc.DocId, status = doc.Status, analysis = doc.Analysis, error = doc.Error, approvedBy = doc.ApprovedBy })
        : NotFound("document", docId));

app.MapPost("/documents/{docId}/approve", async (string docId, Approval? request, DocumentStore documents, IBatonClient baton, CancellationToken cancellationToken) =>
{
    if (documents.Find(docId) is not { } doc)
    {
        return NotFound("document", docId);
    }

    if (doc.Status is not ("pending" or "awaiting-approval"))
    {
        return Results.Problem(title: "Not awaiting approval", detail: $"Document '{docId}' is {doc.Status}; only a pending or awaiting-approval document can be approved.", statusCode: StatusCodes.Status409Conflict);
    }

    // The analysis run waits for this event (matched on data.docId); one sent while it still analyzes counts too.
    var approver = string.IsNullOrWhiteSpace(request?.Approver) ? "anonymous" : request.Approver;
    await baton.SendAsync(new BatonEvent("doc/approved", new DocApproved(docId, approver)) { Id = "doc-approved-" + docId }, cancellationToken);
    return Results.Accepted($"/documents/{docId}", new { docId });
});

app.MapPost("/batches", async (NewBatch? request, DocumentStore documents, IBatonClient baton, CancellationToken cancellationToken) =>
{
    const int MaxDocuments = 1000;
    var urls = request?.FileUrls ?? [];
    var invalid = urls.Where(u => !Uri.TryCreate(u, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https" or "file")).ToList();
    if (urls.Count is 0 or > MaxDocuments || invalid.Count > 0)
    {
        return Results.Problem(
            title: "Invalid batch",
            detail: invalid.Count > 0
                ? $"Every entry of fileUrls must be an absolute http, https or file URL; these are not: {string.Join(", ", invalid.Take(5))}."
                : $"Send {{\"fileUrls\": [...]}} with 1 to {MaxDocuments} URLs.",
            statusCode: StatusCodes.Status400BadRequest);
    }

    var batchId = Guid.CreateVersion7().ToString("N");
    var docs = urls.Select((u, i) => new BatchDocument($"{batchId}-{i}", u)).ToList();
    documents.AddBatch(batchId, [.. docs.Select(d => (d.DocId, d.FileUrl))]);
    await baton.SendAsync(new BatonEvent("batch/requested", new BatchRequested(batchId, docs)) { Id = "batch-requested-" + batchId }, cancellationToken);
    return Results.Accepted($"/batches/{batchId}", new { batchId });
});

app.MapGet("/batches/{batchId}", (string batchId, DocumentStore documents) =>
    documents.FindBatch(batchId) is { } batch
        ? Results.Ok(new { batchId = batch.BatchId, status = batch.Status, total = batch.Total, succeeded = batch.Succeeded, failed = batch.Failed })
        : NotFound("batch", batchId));

app.Lifetime.ApplicationStarted.Register(() =>
{
    var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
        ?? "http://localhost:5000";
    var llm = string.IsNullOrWhiteSpace(apiKey) ? "a local fake LLM (set ANTHROPIC_API_KEY for Claude)" : "Claude via the Anthropic API";
    Console.WriteLine($$"""

        Baton document analysis is running at {{address}}, analyzing with {{llm}}.
        Dashboard: {{address}}/baton/dashboard/ (runs, steps, events, functions; {{(batonKeys.Length > 0 ? "asks for a BATON_API_KEYS key" : "open: set BATON_API_KEYS to protect it")}})
        State: {{(string.IsNullOrWhiteSpace(postgres) ? Path.Combine(app.Environment.ContentRootPath, "baton.db") : "PostgreSQL (BATON_POSTGRES)")}} (Baton) and documents.db (this app).

        Analyze a document:
          curl -s -X POST {{address}}/documents -H 'Content-Type: application/json' -d '{"fileUrl": "{{address}}/samples/contract.txt"}'
        Then read the result (use the docId printed by the first command); it waits for approval:
          curl -s {{address}}/documents/<docId>
          curl -s -X POST {{address}}/documents/<docId>/approve -H 'Content-Type: application/json' -d '{"approver": "me"}'
        Skip the approval with "requireApproval": false. Analyze many documents at once:
          curl -s -X POST {{address}}/batches -H 'Content-Type: application/json' -d '{"fileUrls": ["{{address}}/samples/contract.txt", "{{address}}/samples/incident.txt"]}'
          curl -s {{address}}/batches/<batchId>

        Stop the app at any moment (Ctrl+C, or kill -9) and start it again: runs resume, and completed steps do not run again.

        """);
});

app.Run();

static IResult NotFound(string what, string id) =>
    Results.Problem(title: "Not found", detail: $"There is no {what} '{id}'.", statusCode: StatusCodes.Status404NotFound);

/// <summary>The body of <c>POST /documents</c>. Documents require approval unless <c>requireApproval</c> is false.</summary>
internal sealed record NewDocument(string? FileUrl, bool? RequireApproval);

/// <summary>The body of <c>POST /documents/{docId}/approve</c>.</summary>
internal sealed record Approval(string? Approver);

/// <summary>The body of <c>POST /batches</c>.</summary>
internal sealed record NewBatch(IReadOnlyList<string>? FileUrls);
