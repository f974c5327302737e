namespace Sweeper.Cluster.Actors;

/// <summary>
/// The long-lived threads trials run on. A trial takes an idle thread, or a new one when every thread is busy; when it
/// ends, its thread waits for the next trial instead of exiting. So a worker has about as many trial threads as it
/// runs trials at once (its slots), however many trials it runs in its life.
/// </summary>
/// <remarks>
/// <para>Why not a new thread per trial: glibc gives a new thread a malloc arena of its own (up to 8 per core) and
/// keeps what the thread freed in that arena. libtorch allocates a trial's tensors on its thread, so a thread per
/// trial spread each trial's high-water mark over ever new arenas — about 1 GB of resident memory after 20 small
/// trials on 2 cores (<c>sweeper bench memory</c>) — where a reused thread reuses its arena.</para>
/// <para>A trial thread runs one trial at a time and outlives it: thread-static state (TorchSharp's dispose scope
/// stack, libtorch's grad mode and intra-op thread count) carries over to the next trial, so a trial must leave it as
/// it found it (every dispose scope disposed, <c>no_grad</c> blocks closed), and the place to set per-thread settings
/// before each trial is <see cref="Run"/>.</para>
/// <para>A thread is a background thread: it does not keep the process alive.</para>
/// </remarks>
public sealed class TrialThreads
{
    /// <summary>The process's trial threads (every trial actor uses them).</summary>
    public static TrialThreads Shared { get; } = new("sweeper-trial");

    private readonly string _namePrefix;
    private readonly object _gate = new();
    private readonly Stack<TrialThread> _idle = new();
    private int _created;
    private long _failures;

    public TrialThreads(string namePrefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(namePrefix);
        _namePrefix = namePrefix;
    }

    /// <summary>
    /// Runs on a trial's thread after each trial (after its work returned or threw), before the thread takes the next
    /// one, with how long the work ran: the place to hand memory the trial freed back to the system (the program sets
    /// it, see the Cli's <c>NativeMemory</c>). An exception it throws is counted in <see cref="Failures"/>.
    /// </summary>
    public Action<TimeSpan>? AfterEach { get; set; }

    /// <summary>Threads started so far (idle or busy).</summary>
    public int Created { get { lock (_gate) return _created; } }

    /// <summary>Threads waiting for a trial.</summary>
    public int Idle { get { lock (_gate) return _idle.Count; } }

    /// <summary>Work items that threw (a trial's own code catches its errors; one that escapes is counted, and its thread lives on).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>
    /// Runs <paramref name="work"/> on an idle trial thread (the one that became idle last, whose arena and caches are
    /// warmest), or on a new one if none is idle; returns at once.
    /// </summary>
    public void Run(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        TrialThread? thread;
        lock (_gate)
        {
            if (!_idle.TryPop(out thread))
            {
                _created++;
                thread = new TrialThread(this, $"{_namePrefix}-{_created}");
            }
        }
        thread.Start(work);
    }

    private void Returned(TrialThread thread)
    {
        lock (_gate) _idle.Push(thread);
    }

    /// <summary>One long-lived thread: runs the work it is handed, then goes back to the idle stack and waits.</summary>
    private sealed class TrialThread
    {
        private readonly TrialThreads _owner;
        private readonly SemaphoreSlim _ready = new(0);
        private Action? _work;

        public TrialThread(TrialThreads owner, string name)
        {
            _owner = owner;
            new Thread(Loop) { IsBackground = true, Name = name }.Start();
        }

        /// <summary>Hands <paramref name="work"/> to this (idle) thread.</summary>
        public void Start(Action work)
        {
            _work = work;
            _ready.Release();
        }

        private void Loop()
        {
            while (true)
            {
                _ready.Wait();
                var work = Interlocked.Exchange(ref _work, null);
                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                try
                {
                    work?.Invoke();
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref _owner._failures);
                }
                try
                {
                    _owner.AfterEach?.Invoke(System.Diagnostics.Stopwatch.GetElapsedTime(started));
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref _owner._failures);
                }
                _owner.Returned(this);
            }
        }
    }
}
