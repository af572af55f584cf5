using Baton.PostgreSql;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Baton;

/// <summary>Selects the PostgreSQL provider.</summary>
public static class PostgreSqlBatonBuilderExtensions
{
    /// <summary>
    /// Stores Baton's state in PostgreSQL, so any number of nodes can share the work. Baton creates and migrates its
    /// schema (<see cref="PostgreSqlOptions.Schema"/>) itself.
    /// </summary>
    /// <exception cref="BatonConfigurationException">The connection string or the options are invalid; every problem is listed.</exception>
    public static BatonBuilder UsePostgreSql(this BatonBuilder builder, string connectionString, Action<PostgreSqlOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = Validate(configure, connectionString);
        return builder.UseStorage(sp =>
        {
            // Baton's statements are few and repeated for ever: prepared once per connection, they skip parsing and
            // planning on every write (unless the connection string sets its own Max Auto Prepare).
            var settings = new NpgsqlConnectionStringBuilder(connectionString);
            if (settings.MaxAutoPrepare == 0)
            {
                settings.MaxAutoPrepare = 64;
                settings.AutoPrepareMinUsages = 2;
            }

            var dataSource = new NpgsqlDataSourceBuilder(settings.ConnectionString).Build();
            return new PostgreSqlStorage(dataSource, ownsDataSource: true, options, sp.GetService<TimeProvider>() ?? TimeProvider.System, LoggerFactory(sp));
        });
    }

    /// <summary>
    /// Stores Baton's state in PostgreSQL through a data source the app owns (and disposes). Give it
    /// <c>Max Auto Prepare</c> (for example 64) in its connection string for Baton's writes to run prepared.
    /// </summary>
    public static BatonBuilder UsePostgreSql(this BatonBuilder builder, NpgsqlDataSource dataSource, Action<PostgreSqlOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dataSource);
        var options = Validate(configure, null);
        return builder.UseStorage(sp =>
            new PostgreSqlStorage(dataSource, ownsDataSource: false, options, sp.GetService<TimeProvider>() ?? TimeProvider.System, LoggerFactory(sp)));
    }

    private static ILoggerFactory LoggerFactory(IServiceProvider services) => services.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;

    private static PostgreSqlOptions Validate(Action<PostgreSqlOptions>? configure, string? connectionString)
    {
        var options = new PostgreSqlOptions();
        configure?.Invoke(options);
        var problems = options.Validate().ToList();
        if (connectionString is not null)
        {
            try
            {
                _ = new NpgsqlConnectionStringBuilder(connectionString);
            }
            catch (ArgumentException ex)
            {
                problems.Add($"the PostgreSQL connection string is invalid: {ex.Message}");
            }
        }

        if (problems.Count > 0)
        {
            throw new BatonConfigurationException(problems);
        }

        return options;
    }
}
