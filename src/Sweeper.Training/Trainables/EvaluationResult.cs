namespace Sweeper.Training.Trainables;

/// <summary>Mean cross-entropy loss and accuracy of the model over <see cref="Samples"/> test images.</summary>
public readonly record struct EvaluationResult(double Loss, double Accuracy, int Samples);
