using Spectre.Console.Cli;
using Sweeper.Cli.Commands;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Sweeper.Cli.Tests;

/// <summary>
/// Parses a sweeper command line with the program's own commands and options (Spectre.Console.Cli), without running
/// it: the bound settings are captured before validation, so files the arguments name need not exist here.
/// </summary>
public static class CommandLine
{
    private sealed class Captured(CommandSettings settings, IRemainingArguments remaining) : Exception("captured")
    {
        public CommandSettings Settings { get; } = settings;
        public IRemainingArguments Remaining { get; } = remaining;
    }

    private sealed class Capture : ICommandInterceptor
    {
        public void Intercept(CommandContext context, CommandSettings settings) => throw new Captured(settings, context.Remaining);
    }

    /// <summary>
    /// The settings <paramref name="args"/> bind to; throws <see cref="CommandParseException"/> for bad values, and
    /// <see cref="ArgumentException"/> for arguments no option takes (the program itself passes those over silently).
    /// </summary>
    public static CommandSettings Parse(IEnumerable<string> args)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.PropagateExceptions();
#pragma warning disable CS0618 // the interceptor setting: the simplest way to stop before a command runs
            config.SetInterceptor(new Capture());
#pragma warning restore CS0618
            config.AddCommand<RunCommand>("run");
            config.AddCommand<ResumeCommand>("resume");
            config.AddCommand<WorkerCommand>("worker");
        });
        try { app.Run(args.ToArray()); }
        catch (Captured captured)
        {
            var unknown = captured.Remaining.Raw.Concat(captured.Remaining.Parsed.Select(p => p.Key)).ToList();
            if (unknown.Count > 0) throw new ArgumentException($"not an option of the command: {string.Join(' ', unknown)}", nameof(args));
            return captured.Settings;
        }
        throw new InvalidOperationException($"'{string.Join(' ', args)}' did not reach a command");
    }

    /// <summary>Every document of a YAML file (several are separated by <c>---</c>), as nested dictionaries and lists.</summary>
    public static List<Dictionary<object, object>> YamlDocuments(string path)
    {
        using var reader = new StringReader(File.ReadAllText(path));
        var parser = new MergingParser(new Parser(reader));
        var deserializer = new DeserializerBuilder().Build();
        var documents = new List<Dictionary<object, object>>();
        parser.Consume<StreamStart>();
        while (parser.Accept<DocumentStart>(out _))
            documents.Add(deserializer.Deserialize<Dictionary<object, object>>(parser));
        return documents;
    }
}
