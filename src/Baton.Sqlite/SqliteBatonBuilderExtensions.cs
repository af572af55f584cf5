using Baton.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Baton;

/// <summary>Selects the SQLite provider.</summary>
public static class SqliteBatonBuilderExtensions
{
    /// <summary>Stores Baton's state in a SQLite file (the default: <c>baton.db</c> in the app's content root).</summary>
    /// <exception cref="BatonConfigurationException">The options are invalid; every problem is listed.</exception>
    public static BatonBuilder UseSqlite(this BatonBuilder builder, Action<SqliteOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new SqliteOptions();
        configure?.Invoke(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new BatonConfigurationException(problems);
        }

        return builder.UseStorage(sp =>
        {
            var root = sp.GetService<IHostEnvironment>()?.ContentRootPath ?? AppContext.BaseDirectory;
            var path = Path.IsPathRooted(options.Path) ? options.Path : Path.Combine(root, options.Path);
            return new SqliteStorage(path, options, sp.GetService<TimeProvider>() ?? TimeProvider.System);
        });
    }

    /// <summary>Stores Baton's state in the given SQLite file.</summary>
    public static BatonBuilder UseSqlite(this BatonBuilder builder, string path) =>
        builder.UseSqlite(o => o.Path = path);
}
