using Baton.Cli;

return await BatonCommands.RunAsync(args, Console.Out, Console.Error);
