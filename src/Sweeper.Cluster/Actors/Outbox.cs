using Akka.Actor;
using Sweeper.Cluster.Journal;
using Sweeper.Cluster.Messages;
using Sweeper.Core.Model;
using Sweeper.Core.Sweep;

namespace Sweeper.Cluster.Actors;

/// <summary>
/// The coordinator's outbox: what it decided while handling the messages already in its mailbox — journal entries,
/// changed trial records, messages to send — kept until <see cref="Flush"/> writes the journal entries in one
/// transaction and only then sends the messages, so nothing leaves the coordinator that a restarted one would not know.
/// </summary>
internal sealed class Outbox
{
    private readonly List<JournalEntry> _created = new();
    private readonly List<JournalEntry> _dropped = new();
    private readonly List<JournalEntry> _epochs = new();
    private readonly List<JournalEntry> _meta = new();
    private readonly Dictionary<TrialId, TrialRecord> _changed = new();
    private readonly List<(IActorRef To, object Message)> _sends = new();
    private readonly HashSet<IActorRef> _subscribers = new();
    private SweepResult? _completed;

    public bool IsEmpty => _created.Count == 0 && _dropped.Count == 0 && _epochs.Count == 0 && _changed.Count == 0 && _sends.Count == 0 && _meta.Count == 0 && _completed is null;

    public void Created(TrialRecord trial) => _created.Add(new JournalEntry.NewTrial(trial.Config));

    public void Changed(TrialRecord trial) => _changed[trial.Id] = trial;

    public void Epoch(TrialId id, Core.Trials.EpochResult result) => _epochs.Add(new JournalEntry.EpochRow(id, result));

    public void EpochsDropped(TrialId id, int after) => _dropped.Add(new JournalEntry.DropEpochsAfter(id, after));

    public void Send(IActorRef to, object message) => _sends.Add((to, message));

    /// <summary>Sets a journal metadata value (null: removes it).</summary>
    public void Meta(string key, string? value) => _meta.Add(new JournalEntry.MetaValue(key, value));

    /// <summary>The sweep ended: subscribers are told with the next flush.</summary>
    public void Completed(SweepResult result) => _completed = result;

    /// <summary>Adds a subscriber to every flush's changed records; false when it was subscribed already.</summary>
    public bool Subscribe(IActorRef subscriber) => _subscribers.Add(subscriber);

    public bool Unsubscribe(IActorRef subscriber) => _subscribers.Remove(subscriber);

    /// <summary>
    /// Writes everything to <paramref name="journal"/> (new trials first, then dropped epochs, trial rows and epoch rows:
    /// an epoch of a resumed trial follows the row that dropped its later ones), then sends the messages from
    /// <paramref name="sender"/> and tells subscribers the records that changed (in the order they first changed) and
    /// the sweep's end. When the journal write throws, nothing is sent and everything is kept for the next flush.
    /// </summary>
    public void Flush(SweepJournal? journal, IActorRef sender)
    {
        var changed = _changed.Values.ToList();
        if (journal is not null)
        {
            var batch = new List<JournalEntry>(_created.Count + _dropped.Count + changed.Count + _epochs.Count);
            batch.AddRange(_created);
            batch.AddRange(_dropped);
            batch.AddRange(changed.Select(t => (JournalEntry)new JournalEntry.TrialRow(t)));
            batch.AddRange(_epochs);
            batch.AddRange(_meta);
            journal.Write(batch);
        }
        _created.Clear();
        _dropped.Clear();
        _epochs.Clear();
        _meta.Clear();
        _changed.Clear();
        foreach (var (to, message) in _sends) to.Tell(message, sender);
        _sends.Clear();
        foreach (var s in _subscribers)
        {
            foreach (var t in changed) s.Tell(new SweepQueries.TrialUpdated(t));
            if (_completed is not null) s.Tell(new SweepQueries.SweepCompleted(_completed));
        }
        _completed = null;
    }
}
