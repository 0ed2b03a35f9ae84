"""Personal-data rights (PIPL): export, account closure, consent versions, access log, retention."""
