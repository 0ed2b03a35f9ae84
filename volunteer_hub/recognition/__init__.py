"""Training records, quality evaluations and awards: what an organization records about a
volunteer besides hours."""
