using Microsoft.Extensions.Options;

namespace Baton;

/// <summary>Reports every problem of <see cref="BatonOptions"/> together.</summary>
internal sealed class BatonOptionsValidator : IValidateOptions<BatonOptions>
{
    public ValidateOptionsResult Validate(string? name, BatonOptions options)
    {
        var problems = options.Validate().ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
