"""Reports for people: charts (and later PPTX/XLSX/e-mail)."""
