using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Baton.Benchmarks;

/// <summary>Prints the table of figures and ratios, and writes <c>latest.json</c> and <c>latest.md</c>.</summary>
public static class Report
{
    public static string Table(IReadOnlyList<Measurement> measurements)
    {
        var rows = measurements.Select(m => new[]
        {
            m.Scenario, m.System, m.Storage, Format(m.Value), Format(m.Min), Format(m.Max), m.Unit,
        }).ToList();
        string[] header = ["scenario", "system", "storage", "median", "min", "max", "unit"];
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var text = new StringBuilder();
        text.AppendLine("| " + string.Join(" | ", header.Select((h, i) => h.PadRight(widths[i]))) + " |");
        text.AppendLine("|" + string.Join("|", widths.Select((w, i) => new string('-', w + 2) + (i is >= 3 and <= 5 ? "" : ""))) + "|");
        foreach (var row in rows)
        {
            text.AppendLine("| " + string.Join(" | ", row.Select((c, i) => i is >= 3 and <= 5 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))) + " |");
        }

        return text.ToString();
    }

    public static async Task WriteAsync(string directory, IReadOnlyList<Measurement> measurements, BenchSettings settings)
    {
        Directory.CreateDirectory(directory);
        var json = JsonSerializer.Serialize(
            measurements.Select(m => new { scenario = m.Scenario, system = m.System, storage = m.Storage, value = Round(m.Value), unit = m.Unit, min = Round(m.Min), max = Round(m.Max) }),
            new JsonSerializerOptions { WriteIndented = true });
        await File.WriteAllTextAsync(Path.Combine(directory, "latest.json"), json);
        var markdown = new StringBuilder()
            .AppendLine("# Baton benchmark: latest results")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"{(settings.Quick ? "Quick smoke run" : "Full run")}, {settings.Repetitions} repetition(s) each; median, min and max. Machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}.")
            .AppendLine("Durability on every side: SQLite WAL with synchronous=NORMAL (survives a process crash); PostgreSQL synchronous_commit=on, fsync=on.")
            .AppendLine()
            .Append(Table(measurements));
        await File.WriteAllTextAsync(Path.Combine(directory, "latest.md"), markdown.ToString());
    }

    private static string Format(double value) =>
        double.IsNaN(value) ? "n/a" : value >= 100 ? value.ToString("N0", CultureInfo.InvariantCulture) : value.ToString("0.###", CultureInfo.InvariantCulture);

    private static double? Round(double value) => double.IsNaN(value) ? null : Math.Round(value, 3);
}
