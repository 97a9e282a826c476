namespace Tendril.Redis.Tests;

/// <summary>Generous bounds for waiting on events (the machine is shared and loaded); never used to measure speed.</summary>
internal static class Waits
{
    public static readonly TimeSpan Long = TimeSpan.FromSeconds(60);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Long);

    public static Task Within(this Task task) => task.WaitAsync(Long);

    /// <summary>A task that completes the next time the event fires.</summary>
    public static Task Next(Action<Action> subscribe)
    {
        var fired = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subscribe(() => fired.TrySetResult());
        return fired.Task;
    }
}
