using Sweeper.Core.Reporting;

namespace Sweeper.Core.Tests.Reporting;

/// <summary>CSV formula injection: text cells a spreadsheet would run get a leading quote; numbers stay numbers.</summary>
public sealed class CsvCellTests
{
    [Theory]
    [InlineData("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\"")]
    [InlineData("=1+2", "'=1+2")]
    [InlineData("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0")]
    [InlineData("-2+3", "'-2+3")]
    [InlineData("@SUM(A1:A2)", "'@SUM(A1:A2)")]
    [InlineData("\t=1", "'\t=1")]
    [InlineData("=a,b", "\"'=a,b\"")]
    [InlineData("-0.5", "-0.5")]
    [InlineData("-1E-05", "-1E-05")]
    [InlineData("+3", "+3")]
    [InlineData("-Infinity", "-Infinity")]
    [InlineData("0.25", "0.25")]
    [InlineData("a=b", "a=b")]
    [InlineData("", "")]
    public void CsvCell_Cell_NeutralisedOrKept(string cell, string expected) =>
        Assert.Equal(expected, ReportWriter.CsvCell(cell));

    [Fact]
    public void Csv_FormulaInHeaderAndRow_Neutralised()
    {
        var table = new ResultTable(["trial", "=evil"], [["@t0001", "-0.5"]]);

        Assert.Equal("trial,'=evil\n'@t0001,-0.5\n", ReportWriter.Csv(table));
    }
}
