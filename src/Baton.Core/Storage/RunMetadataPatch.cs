namespace Baton.Storage;

/// <summary>
/// A change to a run's live information: its progress (<c>{value, message, updatedAt}</c>, replaced whole), one key of its
/// metadata (set to <paramref name="MetadataValueJson"/>, or removed when that is null), and tags to add. Null parts
/// stay as they are.
/// </summary>
public sealed record RunMetadataPatch(string? ProgressJson, string? MetadataKey, string? MetadataValueJson, IReadOnlyList<string>? AddTags);
