using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Baton.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL server for the tests: the one named by <c>BATON_TEST_POSTGRES</c> (a connection string), or a
/// throwaway server this process creates with <c>initdb</c> in a temp directory and removes at exit.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private static readonly Lazy<Task<PostgresServer>> SharedServer = new(StartSharedAsync);
    private readonly string? _directory;
    private readonly string? _binaries;

    private PostgresServer(string connectionString, string? directory, string? binaries)
    {
        ConnectionString = connectionString;
        _directory = directory;
        _binaries = binaries;
    }

    public string ConnectionString { get; }

    /// <summary>Whether this process owns the server (and so may restart it).</summary>
    public bool IsOwned => _directory is not null;

    /// <summary>The server shared by every test in this process.</summary>
    public static Task<PostgresServer> SharedAsync() => SharedServer.Value;

    /// <summary>Starts a new throwaway server, owned by the caller.</summary>
    public static async Task<PostgresServer> StartThrowawayAsync()
    {
        var binaries = FindBinaries();
        await RemoveStaleAsync(binaries);
        var directory = Path.Combine(Path.GetTempPath(), "baton-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);

        // Which process owns the server: a later run stops it if that process died without stopping it.
        await File.WriteAllTextAsync(Path.Combine(directory, OwnerFile), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var port = FreePort();
        if (Environment.UserName == "root")
        {
            // PostgreSQL refuses to run as root: its files belong to the postgres user.
            await RunAsync("chown", ["-R", "postgres", directory], asPostgres: false);
        }

        await RunAsync(Path.Combine(binaries, "initdb"), ["-D", Path.Combine(directory, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "-N"], asPostgres: true);
        var server = new PostgresServer($"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Maximum Pool Size=50", directory, binaries);
        await server.PgCtlAsync("start", $"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={directory} -c max_connections=400 -c fsync=on");
        return server;
    }

    /// <summary>Restarts an owned server (fast shutdown: clients are disconnected).</summary>
    public Task RestartAsync() => PgCtlAsync("restart", null, "fast");

    /// <summary>A connection string whose unqualified table names resolve in <paramref name="schema"/>.</summary>
    public string WithSearchPath(string schema) =>
        new NpgsqlConnectionStringBuilder(ConnectionString) { SearchPath = schema }.ConnectionString;

    public async ValueTask DisposeAsync()
    {
        if (_directory is null)
        {
            return;
        }

        try
        {
            await PgCtlAsync("stop", null, "immediate");
        }
        finally
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // The OS cleans temp eventually.
            }
        }
    }

    private static async Task<PostgresServer> StartSharedAsync()
    {
        if (Environment.GetEnvironmentVariable("BATON_TEST_POSTGRES") is { Length: > 0 } external)
        {
            return new PostgresServer(external, null, null);
        }

        var server = await StartThrowawayAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(20));
        return server;
    }

    private Task PgCtlAsync(string action, string? options, string? mode = null)
    {
        var args = new List<string> { action, "-D", Path.Combine(_directory!, "data"), "-w", "-t", "60", "-l", Path.Combine(_directory!, "server.log") };
        if (options is not null)
        {
            args.AddRange(["-o", options]);
        }

        if (mode is not null)
        {
            args.AddRange(["-m", mode]);
        }

        return RunAsync(Path.Combine(_binaries!, "pg_ctl"), args, asPostgres: true);
    }

    private const string OwnerFile = "owner.pid";

    /// <summary>
    /// Removes the directories of earlier throwaway servers that are no longer running, and stops those still running
    /// whose owning process is gone (a test host killed by its runner never gets to stop its shared server).
    /// </summary>
    private static async Task RemoveStaleAsync(string binaries)
    {
        foreach (var directory in Directory.GetDirectories(Path.GetTempPath(), "baton-pg-*"))
        {
            var running = File.Exists(Path.Combine(directory, "data", "postmaster.pid"));
            var stopped = false;
            if (running && OwnerIsGone(directory))
            {
                var orphan = new PostgresServer("", directory, binaries);
                try
                {
                    await orphan.PgCtlAsync("stop", null, "immediate");
                    (running, stopped) = (false, true);
                }
                catch (InvalidOperationException)
                {
                    // Already stopping, or not ours to stop: left for the next run.
                }
            }

            if (!running && (stopped || Directory.GetLastWriteTimeUtc(directory) < DateTime.UtcNow.AddMinutes(-10)))
            {
                try
                {
                    Directory.Delete(directory, recursive: true);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Another test process may be creating it right now.
                }
            }
        }
    }

    private static bool OwnerIsGone(string directory)
    {
        if (!File.Exists(Path.Combine(directory, OwnerFile)) || !int.TryParse(File.ReadAllText(Path.Combine(directory, OwnerFile)), out var pid))
        {
            return false;
        }

        try
        {
            using var owner = Process.GetProcessById(pid);
            return owner.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }

    private static string FindBinaries()
    {
        IEnumerable<string> candidates = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).OrderDescending()
            : [];
        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
            ?? throw new InvalidOperationException(
                "No PostgreSQL server binaries found under /usr/lib/postgresql. Install them (apt-get install postgresql), " +
                "or point BATON_TEST_POSTGRES at a server; eng/test.sh does the former.");
    }

    private static async Task RunAsync(string file, IReadOnlyList<string> args, bool asPostgres)
    {
        var info = new ProcessStartInfo(asPostgres && Environment.UserName == "root" ? "runuser" : file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres && Environment.UserName == "root")
        {
            foreach (var arg in new[] { "-u", "postgres", "--", file })
            {
                info.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {await error}{await output}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
