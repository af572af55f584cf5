namespace Baton.Storage;

/// <summary>
/// A change to a run's live information: its progress (<c>{value, message, updatedAt}</c>, replaced whole), a JSON merge
/// patch of its metadata (RFC 7396: a null value removes the key), and tags to add. Null parts stay as they are.
/// </summary>
public sealed record RunMetadataPatch(string? ProgressJson, string? MetadataPatchJson, IReadOnlyList<string>? AddTags);
