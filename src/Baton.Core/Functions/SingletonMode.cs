namespace Baton;

/// <summary>What a singleton function does with a new run while one with the same key has not ended.</summary>
public enum SingletonMode
{
    /// <summary>The new run is not created; the one already there goes on.</summary>
    Skip = 0,

    /// <summary>The run already there is cancelled and the new one is created.</summary>
    Cancel = 1,
}
