"""Reports: monthly figures per organization, time-bank liability, CSV/XLSX, charts."""
