namespace Sweeper.Training.Data;

/// <summary>A data set's folder or one of its files is missing. The message names the path and says how to get the data.</summary>
public sealed class DatasetNotFoundException : FileNotFoundException
{
    public DatasetNotFoundException(string datasetName, string path, string howToInstall)
        : base($"The {datasetName} data set was not found: '{path}' does not exist. {howToInstall}", path)
    {
        DatasetName = datasetName;
    }

    public string DatasetName { get; }
}
