"""For finance: the findings in words, the charts, the PDF/PNG report and the spreadsheet."""
